"""Write the examples' sample data: every data set as `<name>.csv` (UTF-8) and `<name>.xlsx`, the same rows.

    python3 examples/make_samples.py

The rows below are typed Python values. The CSV gets them as a person types them (dates as
`31.12.2026` in the Russian files, `2026-12-31 09:30` for a date and time, money as a plain
amount, yes/no or да/нет); the xlsx gets real cells: date and datetime cells, numbers, money
with a `"RUB"` number format, booleans. Headers are field titles (Russian or English) or
field ids, as `smartflow import` matches them. Deterministic: running it again writes the
same bytes (with the same openpyxl), so the committed files can be checked against the script
(tests/test_examples.py does).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

HERE = Path(__file__).resolve().parent
FIXED = (2026, 11, 1, 0, 0, 0)  # every zip entry's timestamp, so the xlsx bytes never change

# Column kinds: how a value is written to CSV and what cell it becomes in xlsx.
TEXT, DATE, DATETIME, MONEY, INTEGER, NUMBER, BOOLEAN, LIST = (
    "text", "date", "datetime", "money", "integer", "number", "boolean", "list")


@dataclass(frozen=True)
class DataSet:
    path: str  # relative to examples/, without the extension
    sheet: str
    columns: list[tuple[str, str]]  # (header, kind)
    rows: list[tuple[Any, ...]]
    russian: bool  # dates as DD.MM.YYYY and booleans as да/нет in the CSV


def d(text: str) -> date:
    return date.fromisoformat(text)


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- procurement: the backlog of a house-building firm's supply department ---------------------

PROCUREMENT_COLUMNS = [
    ("Название", TEXT), ("Стадия", TEXT), ("Ответственный", TEXT), ("Приоритет", TEXT),
    ("Сумма сметы", MONEY), ("Материалы", LIST), ("Объект строительства", TEXT), ("Поставщик", TEXT),
    ("Email поставщика", TEXT), ("Цена поставщика", MONEY), ("Номер договора", TEXT),
    ("Срок поставки", DATE), ("Дата отгрузки", DATE), ("Доставлено", BOOLEAN),
]
IVANOVA, ORLOV = "Анна Иванова", "Сергей Орлов"
ESTIMATE, PRICES, CONTRACT, DELIVERY, HANDED, CANCELLED = (
    "Получена смета", "Запрос цен у поставщиков", "Договор и счёт", "Контроль поставки",
    "Передано в производство", "Отменена")
STROYBETON = ("ООО «СтройБетон»", "sales@stroybeton.ru")
LESPROM = ("ООО «ЛесПром»", "zakaz@lesprom.ru")
BALTIC = ("Baltic Timber LLC", "sales@baltictimber.com")
KROVLYA = ("ООО «КровляПро»", "info@krovlyapro.ru")
METALL = ("ООО «Металлсервис»", "opt@metallservis.ru")
TEPLO = ("ООО «ТеплоСтрой»", "info@teplostroy.ru")
NORDIC = ("Nordic Insulation Ltd", "orders@nordic-insulation.com")
NONE2 = (None, None)


def purchase(title: str, stage: str, who: str, priority: str, estimate: Any, materials: list[str], site: str,
             supplier: tuple[str | None, str | None] = NONE2, quoted: Any = None, contract: str | None = None,
             due: str | None = None, shipped: str | None = None, delivered: bool = False) -> tuple[Any, ...]:
    return (title, stage, who, priority, None if estimate is None else Decimal(str(estimate)), materials, site,
            supplier[0], supplier[1], None if quoted is None else Decimal(str(quoted)), contract,
            d(due) if due else None, d(shipped) if shipped else None, delivered)


PROCUREMENT = [
    purchase("Брус 150×150 для бани, участок 7", ESTIMATE, ORLOV, "Обычный", 186400, ["Пиломатериалы"],
             "КП «Сосновка», участок 7", due="2027-01-20"),
    purchase("Фундаментные блоки ФБС, дом 4", ESTIMATE, IVANOVA, "Обычный", 420000, ["Бетон"],
             "ЖК «Северный», дом 4"),
    purchase("Roofing membrane for the warehouse", ESTIMATE, ORLOV, "Низкий", 95800, ["Кровля"],
             "Warehouse, 5 Promyshlennaya St."),
    purchase("Арматура А500С Ø12, 6 т", ESTIMATE, IVANOVA, "Срочный", 387000, ["Арматура"],
             "КП «Лесной», участок 14"),
    purchase("Mineral wool insulation, 120 m³", ESTIMATE, ORLOV, "Обычный", None, ["Утеплитель"],
             "Cottage village Sosnovka, lot 15"),
    purchase("Доска обрезная 50×150, 18 м³", ESTIMATE, IVANOVA, "Обычный", 324000, ["Пиломатериалы"],
             "КП «Лесной», участок 9"),
    purchase("Металлочерепица для дома 9", ESTIMATE, ORLOV, "Низкий", "512300.50", ["Кровля"],
             "ЖК «Северный», дом 9"),
    purchase("Бетон В25 для плиты перекрытия, дом 2", PRICES, IVANOVA, "Срочный", 968000, ["Бетон", "Арматура"],
             "ЖК «Северный», дом 2", due="2026-12-18"),
    purchase("Timber frame kit, house 15", PRICES, ORLOV, "Обычный", 1250000, ["Пиломатериалы"],
             "Cottage village Sosnovka, lot 15", due="2027-01-15"),
    purchase("Утеплитель PIR-плиты 100 мм", PRICES, IVANOVA, "Обычный", 276500, ["Утеплитель"],
             "ЖК «Северный», дом 2"),
    purchase("Кровельный комплект: водостоки и планки", PRICES, ORLOV, "Низкий", 143200, ["Кровля"],
             "КП «Лесной», участок 3"),
    purchase("Rebar mesh 100×100, 400 m²", PRICES, IVANOVA, "Обычный", 218000, ["Арматура"],
             "Warehouse, 5 Promyshlennaya St."),
    purchase("Клеёный брус для террасы", PRICES, ORLOV, "Обычный", 459000, ["Пиломатериалы"],
             "КП «Сосновка», участок 7"),
    purchase("Бетон М200 для отмостки и дорожек", PRICES, IVANOVA, "Низкий", 164000, ["Бетон"],
             "КП «Лесной», участок 14"),
    purchase("Бетон М350 для фундамента, дом 6", CONTRACT, IVANOVA, "Срочный", 1320000, ["Бетон"],
             "ЖК «Северный», дом 6", STROYBETON, 1284000, due="2026-12-10"),
    purchase("Пиломатериалы для каркаса, участок 3", CONTRACT, ORLOV, "Обычный", 780000, ["Пиломатериалы"],
             "КП «Лесной», участок 3", LESPROM, 745500),
    purchase("Insulation for the mansard floor", CONTRACT, ORLOV, "Обычный", 198000, ["Утеплитель"],
             "Cottage village Sosnovka, lot 15", NORDIC, "187400.80"),
    purchase("Профнастил и саморезы для склада", CONTRACT, IVANOVA, "Обычный", 254000, ["Кровля"],
             "Warehouse, 5 Promyshlennaya St.", KROVLYA, 249900),
    purchase("Арматура и вязальная проволока, дом 8", CONTRACT, IVANOVA, "Срочный", 312000, ["Арматура"],
             "ЖК «Северный», дом 8", METALL, 326500),
    purchase("Ламинированная фанера для опалубки", CONTRACT, ORLOV, "Обычный", 146000, ["Пиломатериалы"],
             "ЖК «Северный», дом 8", BALTIC, 139800),
    purchase("Бетон М300 для ростверка, дом 5", DELIVERY, IVANOVA, "Срочный", 890000, ["Бетон", "Арматура"],
             "ЖК «Северный», дом 5", STROYBETON, 872000, "SB-2026/098", "2026-12-02"),
    purchase("Laminated beams for the log house, lot 11", DELIVERY, ORLOV, "Обычный", 1640000, ["Пиломатериалы"],
             "КП «Сосновка», участок 11", BALTIC, 1598000, "BT-2026/31", "2026-12-14"),
    purchase("Минвата для стен, дом 6", DELIVERY, IVANOVA, "Обычный", 233000, ["Утеплитель"],
             "ЖК «Северный», дом 6", TEPLO, 221700, "ТС-1187", "2026-12-05"),
    purchase("Мягкая кровля, дом 3", DELIVERY, ORLOV, "Обычный", 402000, ["Кровля"],
             "ЖК «Северный», дом 3", KROVLYA, 388000, "КП-2026/212", "2026-12-20"),
    purchase("Арматура А500С Ø16, 4 т", DELIVERY, IVANOVA, "Срочный", 352000, ["Арматура"],
             "КП «Лесной», участок 14", METALL, 344800, "МС-4471", "2026-11-30"),
    purchase("Бетон М300 для фундамента, дом 1", HANDED, IVANOVA, "Обычный", 1150000, ["Бетон"],
             "ЖК «Северный», дом 1", STROYBETON, 1098000, "SB-2026/061", "2026-10-20", "2026-10-18", True),
    purchase("Timber and roofing for house 4", HANDED, ORLOV, "Обычный", 520000, ["Пиломатериалы", "Кровля"],
             "КП «Лесной», участок 4", LESPROM, 497000, "ЛП-2026/045", "2026-10-28", "2026-10-27", True),
    purchase("Утеплитель для перекрытий, дом 2", HANDED, IVANOVA, "Низкий", 176000, ["Утеплитель"],
             "ЖК «Северный», дом 2", TEPLO, 169500, "ТС-1102", "2026-11-10", "2026-11-09", True),
    purchase("Облицовочный кирпич для дома 10 (проект заморожен)", CANCELLED, ORLOV, "Низкий", 610000, [],
             "ЖК «Северный», дом 10"),
    purchase("Duplicate request: concrete for house 6", CANCELLED, IVANOVA, "Обычный", 1320000, ["Бетон"],
             "ЖК «Северный», дом 6"),
]

# --- hr: candidates and interns, English headers ------------------------------------------------

CANDIDATE_COLUMNS = [
    ("Title", TEXT), ("Pipeline", TEXT), ("Stage", TEXT), ("Position", TEXT), ("Person type", TEXT),
    ("Department", TEXT), ("Source", TEXT), ("Email", TEXT), ("Phone", TEXT), ("Experience (years)", NUMBER),
    ("Expected salary", MONEY), ("Interview date and time", DATETIME), ("Interviewer", TEXT),
    ("Test score", INTEGER), ("Offered salary", MONEY), ("Offer date", DATE), ("Start date", DATE),
    ("University", TEXT), ("Mentor", TEXT), ("Internship ends", DATE), ("Rejection reason", TEXT), ("Notes", TEXT),
]
ZAKHAROV, VOLKOVA = "Игорь Захаров", "Елена Волкова"


def candidate(name: str, pipeline: str, stage: str, position: str, source: str, email: str | None,
              phone: str | None, years: Any, salary: int | None, *, interview: str | None = None,
              interviewer: str | None = None, score: int | None = None, offered: int | None = None,
              offer: str | None = None, start: str | None = None, department: str | None = None,
              university: str | None = None, mentor: str | None = None, ends: str | None = None,
              reason: str | None = None, notes: str | None = None) -> tuple[Any, ...]:
    person = "Intern" if pipeline == "Internship" else "Candidate"
    return (name, pipeline, stage, position, person, department, source, email, phone,
            None if years is None else Decimal(str(years)), None if salary is None else Decimal(salary),
            dt(interview) if interview else None, interviewer, score,
            None if offered is None else Decimal(offered), d(offer) if offer else None, d(start) if start else None,
            university, mentor, d(ends) if ends else None, reason, notes)


H, INTERN = "Hiring", "Internship"
CANDIDATES = [
    candidate("Соколов Артём Павлович", H, "New application", "Site foreman", "hh.ru", "a.sokolov@mail.ru",
              "+7 916 203-44-18", 12, 180000, notes="Опыт на малоэтажном строительстве, свой автомобиль"),
    candidate("Emily Carter", H, "New application", "Design engineer", "Company website", "emily.carter@gmail.com",
              None, 6, 210000, notes="Relocating from Tallinn, works in Revit and AutoCAD"),
    candidate("Григорьев Никита Олегович", H, "New application", "Carpenter", "hh.ru", None, "+7 921 118-07-65",
              8, 95000),
    candidate("Фёдорова Анастасия Сергеевна", H, "New application", "Accountant", "SuperJob",
              "a.fedorova@yandex.ru", None, 5, 120000),
    candidate("Юсупова Камила Рустамовна", H, "New application", "Sales manager", "Telegram channel",
              "k.yusupova@bk.ru", "+7 987 654-32-10", 3, 90000, notes="Два года продаёт загородные дома"),
    candidate("Белов Максим Андреевич", H, "Screening", "Cost estimator", "hh.ru", "m.belov@mail.ru",
              "+7 903 555-21-09", 7, 150000, notes="Гранд-Смета, ФЕР и ТЕР"),
    candidate("Daniel Novak", H, "Screening", "Design engineer", "Recruitment agency", "d.novak@outlook.com", None,
              9, 240000, notes="Structural engineer from Brno, speaks Russian"),
    candidate("Киселёва Ольга Викторовна", H, "Screening", "Procurement specialist", "Employee referral",
              "o.kiseleva@gmail.com", "+7 912 877-45-60", 4, 110000),
    candidate("Романов Илья Сергеевич", H, "Screening", "Site foreman", "SuperJob", None, "+7 926 410-88-73",
              15, 200000),
    candidate("Тарасова Вера Николаевна", H, "Screening", "Accountant", "hh.ru", "v.tarasova@mail.ru", None,
              11, 140000, notes="1С: Бухгалтерия 8.3, УСН и ОСНО"),
    candidate("Медведев Павел Игоревич", H, "Interview", "Site foreman", "hh.ru", "p.medvedev@yandex.ru",
              "+7 915 300-12-45", 10, 190000, interview="2026-12-01 10:00", interviewer=ZAKHAROV),
    candidate("Sarah Thompson", H, "Interview", "Sales manager", "Company website", "sarah.t@proton.me", None,
              5, 130000, interview="2026-12-01 15:30", interviewer=VOLKOVA,
              notes="Would handle English-speaking buyers of cottages"),
    candidate("Зайцев Роман Евгеньевич", H, "Interview", "Carpenter", "Employee referral", None,
              "+7 999 214-56-78", 6, 100000, interview="2026-12-02 11:00", interviewer=ZAKHAROV),
    candidate("Полякова Дарья Алексеевна", H, "Interview", "Design engineer", "hh.ru", "d.polyakova@mail.ru", None,
              "3.5", 150000, interview="2026-12-03 14:00", interviewer=ZAKHAROV),
    candidate("Андреев Кирилл Викторович", H, "Interview", "Cost estimator", "SuperJob", "k.andreev@gmail.com",
              None, 8, 160000, interview="2026-12-04 10:30", interviewer=ZAKHAROV),
    candidate("Лебедева Ирина Олеговна", H, "Test task", "Design engineer", "hh.ru", "i.lebedeva@yandex.ru", None,
              6, 185000, interview="2026-11-20 11:00", interviewer=ZAKHAROV, score=78),
    candidate("Mark Jensen", H, "Test task", "Cost estimator", "Recruitment agency", "m.jensen@gmail.com", None,
              12, 230000, interview="2026-11-19 16:00", interviewer=ZAKHAROV,
              notes="Test task sent on 20 November, due on 27 November"),
    candidate("Волков Степан Дмитриевич", H, "Test task", "Site foreman", "hh.ru", None, "+7 916 777-01-23",
              9, 175000, interview="2026-11-18 10:00", interviewer=ZAKHAROV, score=55),
    candidate("Егорова Алина Маратовна", H, "Test task", "Procurement specialist", "Employee referral",
              "a.egorova@mail.ru", None, 4, 115000, interview="2026-11-21 12:00", interviewer=VOLKOVA, score=91),
    candidate("Николаев Денис Александрович", H, "Offer", "Site foreman", "hh.ru", "d.nikolaev@mail.ru",
              "+7 903 120-45-67", 14, 210000, interview="2026-11-10 10:00", interviewer=ZAKHAROV, score=84,
              offered=205000, offer="2026-11-24"),
    candidate("Anna Kowalska", H, "Offer", "Design engineer", "Company website", "anna.kowalska@gmail.com", None,
              7, 220000, interview="2026-11-12 14:00", interviewer=ZAKHAROV, score=88, offered=215000,
              offer="2026-11-25"),
    candidate("Орлова Татьяна Игоревна", H, "Offer", "Accountant", "SuperJob", "t.orlova@yandex.ru", None,
              9, 135000, interview="2026-11-11 11:00", interviewer=VOLKOVA, score=72, offered=130000,
              offer="2026-11-26"),
    candidate("Морозов Евгений Петрович", H, "Hired", "Carpenter", "hh.ru", None, "+7 921 333-44-55", 11, 105000,
              interview="2026-10-20 10:00", interviewer=ZAKHAROV, score=80, offered=110000, offer="2026-10-27",
              start="2026-11-09", department="Производство"),
    candidate("Lucas Martin", H, "Hired", "Sales manager", "Employee referral", "lucas.martin@gmail.com", None,
              6, 140000, interview="2026-10-22 16:00", interviewer=VOLKOVA, score=86, offered=145000,
              offer="2026-10-30", start="2026-11-16", department="Отдел продаж / Sales"),
    candidate("Сидоров Олег Васильевич", H, "Rejected", "Site foreman", "hh.ru", None, "+7 905 666-77-88",
              2, 250000, reason="Not qualified enough"),
    candidate("Ковалёв Артур Ринатович", H, "Rejected", "Cost estimator", "SuperJob", "a.kovalev@mail.ru", None,
              5, 160000, interview="2026-11-05 10:00", interviewer=ZAKHAROV, score=40, reason="Failed the test task"),
    candidate("Jessica Brown", H, "Rejected", "Sales manager", "Telegram channel", "jess.brown@gmail.com", None,
              1, 150000, reason="Salary mismatch"),
    candidate("Гусева Полина Андреевна", H, "Candidate withdrew", "Design engineer", "hh.ru", "p.guseva@mail.ru",
              None, 5, 170000, reason="Accepted another offer", notes="Приняла оффер другой компании"),
    candidate("Степанов Глеб Романович", INTERN, "Application", "Design engineer", "University / job fair",
              "g.stepanov@edu.spbstu.ru", None, 0, None, university="СПбПУ Петра Великого"),
    candidate("Alice Chen", INTERN, "Application", "Cost estimator", "University / job fair",
              "alice.chen@edu.hse.ru", None, 0, None, university="HSE University, St Petersburg"),
    candidate("Воробьёва Ксения Игоревна", INTERN, "Interview", "Design engineer", "Company website",
              "k.vorobeva@mail.ru", None, 0, None, interview="2026-12-02 13:00", interviewer=ZAKHAROV,
              university="СПбГАСУ"),
    candidate("Кравцов Иван Дмитриевич", INTERN, "On internship", "Site foreman", "University / job fair",
              "i.kravtsov@mail.ru", "+7 911 020-30-40", "0.5", None, interview="2026-10-01 12:00",
              interviewer=ZAKHAROV, department="Производство", university="СПбГАСУ", mentor=ZAKHAROV,
              ends="2026-12-25"),
    candidate("Никитина Софья Павловна", INTERN, "Accepted", "Cost estimator", "University / job fair",
              "s.nikitina@mail.ru", None, 1, 70000, interview="2026-09-01 12:00", interviewer=ZAKHAROV, score=82,
              start="2026-12-01", department="Сметный отдел", university="СПбГАСУ", mentor=ZAKHAROV,
              ends="2026-11-20"),
]

# --- clinic: patients (Russian headers) and their appointments (English headers) --------------

PATIENT_COLUMNS = [
    ("Название", TEXT), ("Стадия", TEXT), ("Дата рождения", DATE), ("Пол", TEXT), ("Телефон", TEXT),
    ("Электронная почта", TEXT), ("Адрес", TEXT), ("Полис ОМС", TEXT), ("Полис ДМС", TEXT),
    ("Согласие на обработку данных подписано", BOOLEAN), ("Лечащий врач", TEXT), ("Группа крови", TEXT),
    ("Аллергии", TEXT), ("Хронические заболевания", TEXT), ("Диагнозы", TEXT), ("План лечения", TEXT),
    ("Дата выписки", DATE), ("Куда переведён", TEXT),
]
LEBEDEV, MOROZOVA = "Михаил Лебедев", "Елена Морозова"
SPB = "г. Санкт-Петербург, "


def patient(name: str, stage: str, born: str, sex: str, phone: str, email: str | None, address: str,
            oms: str | None, *, dms: str | None = None, consent: bool = True, doctor: str | None = None,
            blood: str | None = None, allergies: str | None = None, chronic: str | None = None,
            diagnoses: str | None = None, plan: str | None = None, discharged: str | None = None,
            transferred: str | None = None) -> tuple[Any, ...]:
    return (name, stage, d(born), "Женский" if sex == "f" else "Мужской", phone, email, address, oms, dms, consent,
            doctor, blood, allergies, chronic, diagnoses, plan, d(discharged) if discharged else None, transferred)


PATIENTS = [
    patient("Иванова Мария Петровна", "Лечение", "1984-03-12", "f", "+7 912 345-67-89", "m.ivanova@mail.ru",
            SPB + "ул. Садовая, д. 12, кв. 45", "7755443322110099", doctor=LEBEDEV, blood="A (II) Rh+",
            allergies="Пенициллин", chronic="Гипертоническая болезнь II стадии",
            diagnoses="I11.9 Гипертензивная болезнь сердца",
            plan="Лозартан 50 мг утром, контроль давления дважды в день, повторный приём через 2 недели"),
    patient("Смирнов Алексей Николаевич", "Зарегистрирован", "1971-09-05", "m", "+7 921 456-78-90", None,
            SPB + "пр. Просвещения, д. 87, кв. 112", "7812000145678921", consent=False),
    patient("John Miller", "Зарегистрирован", "1990-11-23", "m", "+7 931 200-11-22", "john.miller@gmail.com",
            "St Petersburg, 100 Nevsky Prospekt, apt. 5", None, dms="Ingosstrakh DMS 0047-2026-118",
            allergies="Peanuts"),
    patient("Кузнецова Елена Викторовна", "Обследование", "1965-02-17", "f", "+7 911 234-56-01", None,
            SPB + "ул. Бассейная, д. 21, кв. 7", "7834109988776655", doctor=MOROZOVA, blood="B (III) Rh+",
            chronic="Сахарный диабет 2 типа"),
    patient("Попов Дмитрий Сергеевич", "Обследование", "1988-07-30", "m", "+7 905 111-22-33", "d.popov@yandex.ru",
            SPB + "Лиговский пр., д. 50, кв. 31", "7801234567890123", doctor=LEBEDEV, blood="0 (I) Rh+"),
    patient("Васильева Ольга Игоревна", "Зарегистрирован", "1995-12-01", "f", "+7 999 876-54-32",
            "olga.vasilyeva@gmail.com", SPB + "ул. Марата, д. 8, кв. 16", "7845671234509876"),
    patient("Новиков Сергей Александрович", "Лечение", "1958-04-22", "m", "+7 921 900-80-70", None,
            SPB + "ул. Ленина, д. 3, кв. 9", "7867543210987654", doctor=LEBEDEV, blood="A (II) Rh−",
            allergies="Аспирин, сульфаниламиды", chronic="ХОБЛ",
            diagnoses="J44.1 Хроническая обструктивная болезнь лёгких с обострением",
            plan="Ингаляции тиотропия, курс антибиотиков 7 дней, спирометрия после курса"),
    patient("Emma Schneider", "Обследование", "1979-06-14", "f", "+7 931 555-44-33", "emma.schneider@web.de",
            "St Petersburg, 15 Bolshaya Morskaya St., apt. 2", None, dms="AlfaStrakhovanie 77-0915-2026",
            doctor=MOROZOVA, blood="0 (I) Rh−"),
    patient("Морозов Андрей Викторович", "Наблюдение", "1969-10-10", "m", "+7 911 303-40-50", None,
            SPB + "ул. Савушкина, д. 104, кв. 18", "7890123456781234", doctor=MOROZOVA, blood="B (III) Rh−",
            chronic="Ишемическая болезнь сердца", diagnoses="I25.1 Атеросклеротическая болезнь сердца",
            plan="Аторвастатин 20 мг, ЭКГ раз в месяц, ходьба 30 минут в день"),
    patient("Волкова Анна Дмитриевна", "Выздоровел", "2001-01-25", "f", "+7 952 600-70-80", "anna.volkova@mail.ru",
            SPB + "ул. Одоевского, д. 27, кв. 60", "7809876543210987", doctor=LEBEDEV, blood="A (II) Rh+",
            diagnoses="J06.9 Острая инфекция верхних дыхательных путей",
            plan="Обильное питьё, парацетамол 500 мг при температуре выше 38,5 °C", discharged="2026-10-30"),
    patient("Соловьёв Павел Юрьевич", "Лечение", "1983-08-08", "m", "+7 921 777-66-55", "p.soloviev@yandex.ru",
            SPB + "Каменноостровский пр., д. 40, кв. 3", "7823456789012345", doctor=MOROZOVA, blood="AB (IV) Rh+",
            diagnoses="M54.5 Боль внизу спины", plan="Физиотерапия 10 сеансов, ЛФК, нимесулид 5 дней"),
    patient("Лебедева Татьяна Олеговна", "Зарегистрирован", "1992-05-19", "f", "+7 981 234-12-34", None,
            SPB + "ул. Дыбенко, д. 13, кв. 88", "7856789012345678", consent=False),
    patient("Козлов Виктор Петрович", "Переведён в другое учреждение", "1950-03-03", "m", "+7 812 555-01-02", None,
            SPB + "ул. Гороховая, д. 45, кв. 12", "7834567890123456", doctor=LEBEDEV, blood="0 (I) Rh+",
            chronic="Мерцательная аритмия", diagnoses="I48 Фибрилляция предсердий",
            plan="Консультация кардиохирурга", transferred="ГБУЗ «Городская больница № 26»"),
    patient("Федорова Ирина Сергеевна", "Наблюдение", "1975-11-11", "f", "+7 911 432-10-98",
            "i.fedorova@gmail.com", SPB + "ул. Рылеева, д. 6, кв. 4", "7801928374655647", doctor=LEBEDEV,
            blood="A (II) Rh+", allergies="Лидокаин", diagnoses="E03.9 Гипотиреоз",
            plan="Левотироксин 75 мкг натощак, ТТГ через 6 недель"),
    patient("Michael O'Brien", "Выздоровел", "1986-02-28", "m", "+7 931 909-08-07", "mobrien@outlook.com",
            "St Petersburg, 22 Kazanskaya St., apt. 14", None, dms="RESO DMS 5521-2026", doctor=MOROZOVA,
            diagnoses="J02.9 Acute pharyngitis", plan="Gargles, ibuprofen 400 mg as needed, rest",
            discharged="2026-11-06"),
    patient("Павлова Светлана Андреевна", "Лечение", "1990-09-09", "f", "+7 999 101-20-30", None,
            SPB + "пр. Ветеранов, д. 120, кв. 77", "7876543210123456", doctor=MOROZOVA, blood="B (III) Rh+",
            allergies="Цитрусовые", diagnoses="L20.8 Атопический дерматит",
            plan="Эмоленты дважды в день, топические стероиды 7 дней, гипоаллергенная диета"),
    patient("Семёнов Игорь Владимирович", "Отказался от лечения", "1962-12-12", "m", "+7 921 246-80-24", None,
            SPB + "ул. Типанова, д. 9, кв. 51", "7812345098765432", doctor=LEBEDEV),
    patient("Голубева Наталья Викторовна", "Обследование", "1987-04-04", "f", "+7 905 333-22-11",
            "n.golubeva@mail.ru", SPB + "ул. Пестеля, д. 11, кв. 2", "7898765432101234", doctor=LEBEDEV),
    patient("Виноградов Артём Ильич", "Лечение", "1999-07-07", "m", "+7 952 404-50-60", "a.vinogradov@mail.ru",
            SPB + "ул. Коллонтай, д. 31, кв. 140", "7843210987654321", doctor=LEBEDEV, blood="0 (I) Rh+",
            diagnoses="K29.5 Хронический гастрит", plan="Диета № 5, омепразол 20 мг 4 недели, ФГДС через месяц"),
    patient("Богданова Екатерина Павловна", "Выздоровел", "1980-08-18", "f", "+7 911 818-18-18", None,
            SPB + "Суворовский пр., д. 2, кв. 10", "7865432109876543", doctor=MOROZOVA,
            diagnoses="N30.0 Острый цистит", plan="Фосфомицин однократно, обильное питьё",
            discharged="2026-11-13"),
    patient("Chen Wei", "Зарегистрирован", "1993-03-21", "m", "+7 931 123-45-67", "chen.wei@qq.com",
            "St Petersburg, 7 Gagarinsky Lane, apt. 9", None, dms="Sogaz DMS 3310-2026"),
    patient("Тихонова Людмила Георгиевна", "Наблюдение", "1948-01-30", "f", "+7 812 274-11-90", None,
            SPB + "ул. Есенина, д. 5, кв. 33", "7854321098765432", doctor=MOROZOVA, blood="A (II) Rh+",
            chronic="Остеоартроз коленных суставов", diagnoses="M17.0 Первичный двусторонний гонартроз",
            plan="Хондропротекторы 3 месяца, ЛФК, контроль через месяц"),
    patient("Орлов Константин Евгеньевич", "Обследование", "1977-05-05", "m", "+7 921 505-05-05",
            "k.orlov@yandex.ru", SPB + "ул. Маяковского, д. 19, кв. 6", "7832109876543210", doctor=MOROZOVA),
    patient("Зайцева Алёна Романовна", "Лечение", "2003-10-02", "f", "+7 999 707-70-07", "alena.z@mail.ru",
            SPB + "пр. Науки, д. 17, кв. 204", "7821098765432109", doctor=LEBEDEV,
            diagnoses="J20.9 Острый бронхит", plan="Амброксол, обильное питьё, контроль через 10 дней"),
    patient("Андреев Николай Фёдорович", "Выздоровел", "1966-06-06", "m", "+7 911 616-16-16", None,
            SPB + "ул. Бутлерова, д. 40, кв. 15", "7810987654321098", doctor=LEBEDEV,
            diagnoses="S93.4 Растяжение связок голеностопа", plan="Покой, эластичный бинт, мазь с НПВС",
            discharged="2026-11-20"),
    patient("Макарова Дарья Ильинична", "Обследование", "1998-02-14", "f", "+7 952 214-02-14",
            "daria.makarova@gmail.com", SPB + "ул. Жуковского, д. 26, кв. 8", "7809182736455463", doctor=MOROZOVA,
            allergies="Латекс"),
    patient("Sophie Laurent", "Лечение", "1985-12-24", "f", "+7 931 224-12-85", "sophie.laurent@orange.fr",
            "St Petersburg, 4 Millionnaya St., apt. 1", None, dms="Ingosstrakh DMS 0047-2026-377",
            doctor=MOROZOVA, diagnoses="H10.1 Acute atopic conjunctivitis",
            plan="Antihistamine eye drops twice a day for 10 days"),
    patient("Никитин Глеб Олегович", "Зарегистрирован", "2008-09-01", "m", "+7 999 333-90-01", None,
            SPB + "ул. Руставели, д. 62, кв. 97", "7843219876012345", consent=False),
    patient("Егорова Валентина Ивановна", "Наблюдение", "1955-07-19", "f", "+7 812 590-44-21", None,
            SPB + "ул. Седова, д. 90, кв. 23", "7865019283746501", doctor=LEBEDEV, blood="0 (I) Rh+",
            chronic="Гипертоническая болезнь", diagnoses="I10 Эссенциальная гипертензия",
            plan="Амлодипин 5 мг, дневник давления, повторный приём через месяц"),
    patient("Крылов Антон Сергеевич", "Обследование", "1982-11-30", "m", "+7 921 130-11-82", "a.krylov@mail.ru",
            SPB + "ул. Кораблестроителей, д. 30, кв. 415", "7876012345678901", doctor=LEBEDEV),
]

APPOINTMENT_COLUMNS = [
    ("Title", TEXT), ("Patient", TEXT), ("Doctor", TEXT), ("Scheduled at", DATETIME),
    ("Duration (minutes)", INTEGER), ("Room", TEXT), ("Service", TEXT), ("Price", MONEY),
    ("Payment method", TEXT), ("Paid", BOOLEAN), ("Stage", TEXT), ("Cancellation reason", TEXT),
    ("Doctor's notes", TEXT),
]
SERVICES = {  # the English title the file uses → (Russian title for the appointment's name, price, minutes)
    "Initial consultation": ("Первичный приём", 2500, 30),
    "Follow-up visit": ("Повторный приём", 1800, 20),
    "Diagnostics (ultrasound, ECG)": ("УЗИ и ЭКГ", 3200, 40),
    "Lab tests": ("Сдача анализов", 1400, 15),
    "Procedure": ("Процедура", 2100, 30),
    "Vaccination": ("Вакцинация", 1600, 15),
}
ENGLISH_PATIENTS = {"John Miller", "Emma Schneider", "Michael O'Brien", "Chen Wei", "Sophie Laurent"}


def short_name(name: str) -> str:
    """Иванова Мария Петровна → Иванова М. П.; John Miller → J. Miller."""
    parts = name.split()
    if name in ENGLISH_PATIENTS:
        return f"{parts[0][0]}. {' '.join(parts[1:])}"
    return f"{parts[0]} " + " ".join(f"{p[0]}." for p in parts[1:])


def visit(name: str, doctor: str, when: str, service: str, stage: str, room: str, *, method: str | None = None,
          paid: bool = False, reason: str | None = None, notes: str | None = None) -> tuple[Any, ...]:
    russian, price, minutes = SERVICES[service]
    title = f"{service if name in ENGLISH_PATIENTS else russian} — {short_name(name)}"
    money = Decimal(0) if method == "Compulsory insurance" else Decimal(price)
    return (title, name, doctor, dt(when), minutes, room, service, money, method, paid, stage, reason, notes)


IVANOVA_M = "Иванова Мария Петровна"
APPOINTMENTS = [
    # Мария Иванова: five visits, from the first consultation to the follow-ups booked for December.
    visit(IVANOVA_M, LEBEDEV, "2026-10-14 09:30", "Initial consultation", "Completed", "204",
          method="Compulsory insurance",
          notes="Давление 165/100, жалобы на головную боль. Направлена на анализы и ЭКГ"),
    visit(IVANOVA_M, LEBEDEV, "2026-10-16 08:15", "Lab tests", "Completed", "112", method="Bank card", paid=True),
    visit(IVANOVA_M, LEBEDEV, "2026-10-21 11:00", "Diagnostics (ultrasound, ECG)", "Completed", "118",
          method="Bank card", paid=True, notes="ЭКГ: гипертрофия левого желудочка"),
    visit(IVANOVA_M, LEBEDEV, "2026-12-02 09:30", "Follow-up visit", "Confirmed", "204",
          method="Compulsory insurance"),
    visit(IVANOVA_M, LEBEDEV, "2026-12-16 09:30", "Follow-up visit", "Scheduled", "204"),
    visit("Смирнов Алексей Николаевич", LEBEDEV, "2026-12-03 10:00", "Initial consultation", "Scheduled", "204"),
    visit("John Miller", MOROZOVA, "2026-12-01 17:00", "Initial consultation", "Confirmed", "210",
          method="Voluntary insurance"),
    visit("Кузнецова Елена Викторовна", MOROZOVA, "2026-11-24 12:00", "Initial consultation", "Completed", "210",
          method="Compulsory insurance", notes="Гликемия натощак 8,4. Назначено обследование"),
    visit("Кузнецова Елена Викторовна", MOROZOVA, "2026-12-01 08:30", "Lab tests", "Scheduled", "112"),
    visit("Попов Дмитрий Сергеевич", LEBEDEV, "2026-11-25 15:00", "Initial consultation", "Completed", "204",
          method="Cash", paid=True),
    visit("Попов Дмитрий Сергеевич", LEBEDEV, "2026-12-04 15:00", "Diagnostics (ultrasound, ECG)", "Scheduled",
          "118"),
    visit("Васильева Ольга Игоревна", MOROZOVA, "2026-12-07 13:30", "Vaccination", "Scheduled", "105"),
    visit("Новиков Сергей Александрович", LEBEDEV, "2026-11-18 10:30", "Initial consultation", "Completed", "204",
          method="Compulsory insurance"),
    visit("Новиков Сергей Александрович", LEBEDEV, "2026-11-27 10:30", "Procedure", "In progress", "120",
          method="Cash", notes="Ингаляция, первый сеанс"),
    visit("Emma Schneider", MOROZOVA, "2026-11-26 16:00", "Initial consultation", "Completed", "210",
          method="Voluntary insurance", notes="Referred for an abdominal ultrasound"),
    visit("Emma Schneider", MOROZOVA, "2026-12-02 16:00", "Diagnostics (ultrasound, ECG)", "Confirmed", "118",
          method="Voluntary insurance"),
    visit("Морозов Андрей Викторович", MOROZOVA, "2026-11-20 11:30", "Follow-up visit", "Completed", "210",
          method="Compulsory insurance"),
    visit("Морозов Андрей Викторович", MOROZOVA, "2026-12-18 11:30", "Follow-up visit", "Scheduled", "210"),
    visit("Волкова Анна Дмитриевна", LEBEDEV, "2026-10-23 14:00", "Initial consultation", "Completed", "204",
          method="Bank card", paid=True),
    visit("Соловьёв Павел Юрьевич", MOROZOVA, "2026-11-27 09:00", "Procedure", "In progress", "120",
          method="Bank card", paid=True, notes="Физиотерапия, сеанс 3 из 10"),
    visit("Лебедева Татьяна Олеговна", LEBEDEV, "2026-11-16 12:30", "Initial consultation", "No-show", "204"),
    visit("Лебедева Татьяна Олеговна", LEBEDEV, "2026-12-08 12:30", "Initial consultation", "Scheduled", "204"),
    visit("Федорова Ирина Сергеевна", LEBEDEV, "2026-11-19 13:00", "Lab tests", "Completed", "112",
          method="Compulsory insurance", notes="ТТГ 6,8 мЕд/л"),
    visit("Федорова Ирина Сергеевна", LEBEDEV, "2026-12-10 13:00", "Follow-up visit", "Confirmed", "204",
          method="Compulsory insurance"),
    visit("Michael O'Brien", MOROZOVA, "2026-10-30 18:00", "Initial consultation", "Completed", "210",
          method="Voluntary insurance"),
    visit("Павлова Светлана Андреевна", MOROZOVA, "2026-11-13 15:30", "Follow-up visit", "No-show", "210"),
    visit("Семёнов Игорь Владимирович", LEBEDEV, "2026-11-11 09:00", "Procedure", "Cancelled", "120",
          reason="Пациент отказался от лечения по телефону"),
    visit("Голубева Наталья Викторовна", LEBEDEV, "2026-12-01 11:30", "Diagnostics (ultrasound, ECG)",
          "Confirmed", "118", method="Bank card"),
    visit("Виноградов Артём Ильич", LEBEDEV, "2026-11-23 16:30", "Follow-up visit", "No-show", "204"),
    visit("Богданова Екатерина Павловна", MOROZOVA, "2026-11-12 10:00", "Lab tests", "Completed", "112",
          method="Cash", paid=True),
    visit("Chen Wei", MOROZOVA, "2026-12-05 10:30", "Vaccination", "Scheduled", "105"),
    visit("Тихонова Людмила Георгиевна", MOROZOVA, "2026-11-09 14:30", "Procedure", "Cancelled", "120",
          reason="Переносит на декабрь: уезжает к дочери / Moved to December"),
    visit("Орлов Константин Евгеньевич", MOROZOVA, "2026-12-03 12:00", "Diagnostics (ultrasound, ECG)",
          "Scheduled", "118"),
    visit("Sophie Laurent", MOROZOVA, "2026-12-09 17:30", "Follow-up visit", "Scheduled", "210"),
    visit("Андреев Николай Фёдорович", LEBEDEV, "2026-11-06 10:00", "Initial consultation", "Cancelled", "204",
          reason="Записался повторно по ошибке"),
    visit("Крылов Антон Сергеевич", LEBEDEV, "2026-12-02 14:00", "Initial consultation", "Confirmed", "204",
          method="Bank card"),
]

# --- complaints: a customer-care desk; headers mix field ids, Russian and English titles ---------

COMPLAINT_COLUMNS = [
    ("title", TEXT), ("customer_name", TEXT), ("Email клиента", TEXT), ("Customer phone", TEXT),
    ("Канал обращения", TEXT), ("Category", TEXT), ("Серьёзность", TEXT), ("Description", TEXT),
    ("Номер заказа или договора", TEXT), ("Received at", DATETIME), ("Срок ответа", DATE), ("stage", TEXT),
    ("Решение", TEXT), ("Вид компенсации", TEXT), ("Compensation", MONEY), ("Customer satisfied", BOOLEAN),
]

MESSENGER = "Мессенджер (Telegram, WhatsApp)"


def complaint(title: str, customer: str, email: str | None, phone: str | None, channel: str, category: str | None,
              severity: str, description: str, order: str | None, received: str, due: str | None, stage: str, *,
              resolution: str | None = None, compensation_type: str | None = None, compensation: Any = None,
              satisfied: bool | None = None) -> tuple[Any, ...]:
    return (title, customer, email, phone, channel, category, severity, description, order, dt(received),
            d(due) if due else None, stage, resolution, compensation_type,
            None if compensation is None else Decimal(str(compensation)), satisfied)


COMPLAINTS = [
    complaint("Протекает кровля после дождя", "Ковалёва Марина Олеговна", "m.kovaleva@mail.ru", "+7 911 402-18-77",
              "Телефон", None, "Высокая", "После сильного дождя в мансарде мокрое пятно на потолке у окна.",
              "ДГ-2026/031", "2026-11-25 09:12", None, "new"),
    complaint("Delivery of windows is two weeks late", "Peter Hansen", "p.hansen@gmail.com", None, "Email", None,
              "Medium", "The windows promised for 10 November have not arrived, the site crew is idle.",
              "ORD-10452", "2026-11-25 14:40", None, "new"),
    complaint("Грубость прораба на объекте", "Тимофеев Сергей Иванович", None, "+7 921 300-20-10", "Лично в офисе",
              None, "Средняя", "Прораб накричал на заказчика при приёмке этапа.", None, "2026-11-26 10:05", None,
              "new"),
    complaint("Счёт выставлен дважды", "ООО «Северный ветер»", "buh@sever-veter.ru", None, "Электронная почта",
              None, "Низкая", "Пришли два одинаковых счёта за один этап работ, просим аннулировать один.",
              "СЧ-2026/1187", "2026-11-26 11:30", None, "new"),
    complaint("Трещина в отмостке", "Данилов Юрий Петрович", None, "+7 905 245-11-09", MESSENGER, None,
              "Средняя", "Через месяц после сдачи дома по отмостке пошла трещина.", "ДГ-2026/017",
              "2026-11-26 19:48", None, "new"),
    complaint("Website form: nobody called back", "Olivia Brooks", "olivia.brooks@yahoo.com", "+7 931 777-12-34",
              "Website form", None, "Low", "I left a request for a house project quote a week ago and got no call.",
              None, "2026-11-27 08:20", None, "new"),
    complaint("Не работает тёплый пол в ванной", "Сергеева Анна Викторовна", "a.sergeeva@yandex.ru", None,
              "Форма на сайте", None, "Высокая", "Тёплый пол не включается, терморегулятор показывает ошибку E1.",
              "ДГ-2026/044", "2026-11-27 09:02", None, "new"),
    complaint("Отзыв на Яндекс Картах: 1 звезда", "Гость «Дмитрий К.»", None, None, "Сайт отзывов", None,
              "Низкая", "Отрицательный отзыв о сроках стройки без номера договора.", None, "2026-11-27 09:40",
              None, "new"),
    complaint("Кривые стены в гостиной", "Лаврентьев Олег Сергеевич", "o.lavrentiev@mail.ru", "+7 921 610-20-30",
              "Телефон", "Качество работ или товара", "Высокая",
              "Перепад плоскости стен до 12 мм на 2 м, обои не клеятся.", "ДГ-2026/022", "2026-11-18 10:00",
              "2026-12-02", "investigating"),
    complaint("Damaged roof tiles on delivery", "Thomas Wright", "t.wright@outlook.com", None, "Email",
              "Quality of work or goods", "Medium", "Twelve roof tiles arrived cracked, photos attached to the email.",
              "ORD-10391", "2026-11-19 12:15", "2026-12-03", "investigating"),
    complaint("Задержка сдачи дома на месяц", "Петренко Виктор Андреевич", "v.petrenko@gmail.com",
              "+7 911 800-90-10", "Телефон", "Сроки и доставка", "Критическая",
              "Дом по договору должен был быть сдан 1 ноября, работы не закончены. Грозит судом.", "ДГ-2026/009",
              "2026-11-20 09:30", "2026-11-30", "investigating"),
    complaint("Неверная сумма в акте", "ИП Рябов А. В.", "ryabov.av@mail.ru", None, "Электронная почта",
              "Оплата и документы", "Средняя", "В акте выполненных работ сумма больше сметы на 18 400 ₽.",
              "АКТ-2026/311", "2026-11-21 16:20", "2026-12-01", "investigating"),
    complaint("Bathroom tiles laid unevenly", "Laura Fischer", "laura.fischer@gmx.de", "+7 931 400-50-60",
              "Website form", "Quality of work or goods", "Medium",
              "Tile joints are uneven and two tiles sound hollow.",
              "DOM-118", "2026-11-22 13:00", "2026-12-04", "investigating"),
    complaint("Мусор не вывезен после стройки", "Гончарова Елена Павловна", None, "+7 999 202-30-40", MESSENGER,
              "Обслуживание", "Низкая", "После завершения работ на участке остались обрезки и мешки.", "ДГ-2026/027",
              "2026-11-23 18:10", "2026-12-07", "investigating"),
    complaint("Сотрудник не пришёл на замер", "Шубин Артур Маратович", "a.shubin@yandex.ru", "+7 921 505-60-70",
              "Телефон", "Поведение сотрудников", "Средняя", "Замерщик не пришёл в назначенное время и не предупредил.",
              None, "2026-11-24 11:45", "2026-12-01", "investigating"),
    complaint("Скрип пола на втором этаже", "Крюкова Светлана Игоревна", "s.kryukova@mail.ru", None, "Форма на сайте",
              "Качество работ или товара", "Низкая", "Пол на втором этаже скрипит у лестницы.", "ДГ-2026/036",
              "2026-11-24 20:30", "2026-12-08", "investigating"),
    complaint("Входная дверь не закрывается", "Малахов Игорь Юрьевич", None, "+7 911 707-80-90", "Телефон",
              "Качество работ или товара", "Высокая", "Дверь после усадки цепляет порог, замок не закрывается.",
              "ДГ-2026/012", "2026-11-12 09:00", "2026-11-26", "awaiting_customer"),
    complaint("Invoice in the wrong company name", "Nordic Home AB", "accounts@nordichome.se", None, "Email",
              "Billing and documents", "Low", "The invoice names our Russian branch instead of the parent company.",
              "INV-2026/0977", "2026-11-13 10:30", "2026-11-27", "awaiting_customer"),
    complaint("Плесень в подвале", "Кудрявцев Денис Олегович", "d.kudryavtsev@gmail.com", "+7 921 909-10-11",
              "Телефон", "Качество работ или товара", "Критическая",
              "В подвале на стенах плесень, гидроизоляция делалась нами.", "ДГ-2026/005", "2026-11-14 15:00",
              "2026-11-24", "awaiting_customer"),
    complaint("Не пришли документы для налогового вычета", "Абрамова Ольга Николаевна", "o.abramova@yandex.ru",
              None, "Электронная почта", "Оплата и документы", "Средняя",
              "Нужны договор и платёжки для вычета, отправили не всё.", "ДГ-2026/019", "2026-11-16 12:00",
              "2026-11-30", "awaiting_customer"),
    complaint("Сорвали срок монтажа окон", "Ефимов Станислав Петрович", None, "+7 905 606-70-80", "Соцсети",
              "Сроки и доставка", "Средняя", "Монтаж окон переносили три раза.", "ORD-10377", "2026-11-17 17:25",
              "2026-12-01", "awaiting_customer"),
    complaint("Трещины в штукатурке фасада", "Родионова Вера Алексеевна", "v.rodionova@mail.ru", "+7 921 111-00-99",
              "Телефон", "Качество работ или товара", "Высокая", "По фасаду пошли волосяные трещины через два месяца.",
              "ДГ-2026/003", "2026-10-20 10:00", "2026-11-03", "resolved",
              resolution="Фасад перештукатурен за наш счёт 28–30 октября.", compensation_type="Бесплатная переделка",
              compensation=0, satisfied=True),
    complaint("Late delivery of the timber kit", "Henrik Larsen", "h.larsen@gmail.com", None, "Email",
              "Deadlines and delivery", "Medium", "The timber kit arrived nine days after the contract date.",
              "ORD-10288", "2026-10-22 09:00", "2026-11-05", "resolved",
              resolution="Apologised, 5% discount on the next stage of works.", compensation_type="Discount",
              compensation=8500, satisfied=True),
    complaint("Повреждён газон техникой", "Сафонов Михаил Ильич", None, "+7 999 808-70-60", "Лично в офисе",
              "Обслуживание", "Средняя", "Экскаватор разворотил газон у соседнего участка.", "ДГ-2026/014",
              "2026-10-25 14:30", "2026-11-08", "resolved",
              resolution="Газон восстановлен рулонным, соседу принесены извинения.",
              compensation_type="Бесплатная переделка",
              compensation=0, satisfied=True),
    complaint("Списали оплату дважды", "Медведева Алла Сергеевна", "a.medvedeva@mail.ru", "+7 911 222-33-44",
              "Телефон", "Оплата и документы", "Высокая", "С карты дважды списан аванс 150 000 ₽.", "СЧ-2026/1012",
              "2026-10-28 11:10", "2026-11-04", "resolved", resolution="Лишний платёж возвращён на карту 31 октября.",
              compensation_type="Возврат денег", compensation=150000, satisfied=True),
    complaint("Rude call-centre operator", "James Walker", "j.walker@icloud.com", None, "Phone", "Staff conduct",
              "Low", "The operator hung up on me twice.", None, "2026-11-02 16:45", "2026-11-16", "resolved",
              resolution="Call reviewed, the operator has been retrained, customer called back.",
              compensation_type="None", satisfied=False),
    complaint("Не тот цвет кровли", "Кириллова Наталья Андреевна", "n.kirillova@yandex.ru", None,
              "Форма на сайте", "Качество работ или товара", "Средняя",
              "Заказывали RAL 8017, привезли RAL 8019.", "ORD-10301", "2026-11-03 09:50", "2026-11-17", "resolved",
              resolution="Листы заменены на RAL 8017, монтаж за наш счёт.", compensation_type="Замена",
              compensation=0, satisfied=True),
    complaint("Требование вернуть аванс без причины", "Лукин Вадим Олегович", None, "+7 921 404-30-20",
              "Телефон", "Другое", "Низкая", "Клиент передумал строить и требует вернуть аванс полностью.",
              "ДГ-2026/040", "2026-11-05 12:00", "2026-11-19", "rejected",
              resolution="По договору аванс за выполненный проект не возвращается, клиенту направлено письмо."),
    complaint("Spam: advertising in the complaint form", "Unknown", "promo@seo-fast.example", None, "Website form",
              "Other", "Low", "Offers of SEO services sent through the complaint form.", None, "2026-11-08 03:14",
              None, "rejected", resolution="Not a complaint: spam."),
    complaint("Претензия к чужому подрядчику", "Жуков Роман Викторович", "r.zhukov@mail.ru", "+7 905 333-44-55",
              "Электронная почта", "Другое", "Низкая", "Забор ставила другая фирма, не мы.", None,
              "2026-11-10 10:20", "2026-11-24", "rejected",
              resolution="Работы выполнял другой подрядчик, дали его контакты."),
]

DATA = [
    DataSet("procurement/procurement", "Закупки", PROCUREMENT_COLUMNS, PROCUREMENT, True),
    DataSet("hr/candidates", "Candidates", CANDIDATE_COLUMNS, CANDIDATES, False),
    DataSet("clinic/patients", "Пациенты", PATIENT_COLUMNS, PATIENTS, True),
    DataSet("clinic/appointments", "Appointments", APPOINTMENT_COLUMNS, APPOINTMENTS, False),
    DataSet("complaints/complaints", "Жалобы", COMPLAINT_COLUMNS, COMPLAINTS, True),
]


def csv_text(value: Any, kind: str, russian: bool) -> str:
    """A value as a person types it in a CSV file."""
    if value is None or value == []:
        return ""
    if kind == LIST:
        return ", ".join(value)
    if kind == BOOLEAN:
        return ("да" if value else "нет") if russian else ("yes" if value else "no")
    if kind == DATE:
        return value.strftime("%d.%m.%Y") if russian else value.isoformat()
    if kind == DATETIME:
        return value.strftime("%Y-%m-%d %H:%M")
    if kind == MONEY:
        return f"{value:.2f}" if value != value.to_integral_value() else str(int(value))
    return str(value)


CELL_FORMATS = {DATE: "DD.MM.YYYY", DATETIME: "DD.MM.YYYY HH:MM", MONEY: '#,##0.00 "RUB"', NUMBER: "0.0",
                INTEGER: "0"}


def write_csv(data: DataSet, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([header for header, _ in data.columns])
        for row in data.rows:
            writer.writerow([csv_text(v, kind, data.russian) for v, (_, kind) in zip(row, data.columns, strict=True)])


def write_xlsx(data: DataSet, path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = data.sheet
    sheet.append([header for header, _ in data.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in data.rows:
        sheet.append([", ".join(v) if kind == LIST else (None if v is None else v)
                      for v, (_, kind) in zip(row, data.columns, strict=True)])
    for index, (header, kind) in enumerate(data.columns, 1):
        letter = get_column_letter(index)
        for cell in sheet[letter][1:]:
            if kind in CELL_FORMATS and cell.value is not None:
                cell.number_format = CELL_FORMATS[kind]
        longest = max([len(header), *(len(csv_text(r[index - 1], kind, data.russian)) for r in data.rows)])
        sheet.column_dimensions[letter].width = min(max(longest + 2, 10), 60)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    book.properties.creator = "examples/make_samples.py"
    book.properties.created = datetime(*FIXED)
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(_fixed_zip(buffer.getvalue()))


def _fixed_zip(content: bytes) -> bytes:
    """The same workbook with fixed timestamps (zip entries and the `modified` property openpyxl sets to now)."""
    stamp = datetime(*FIXED).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), body)
            target.writestr(zipfile.ZipInfo(info.filename, date_time=FIXED), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def main(out: Path = HERE) -> None:
    """Write every data set under out (the examples folder; the tests write to a temporary one)."""
    for data in DATA:
        base = out / data.path
        base.parent.mkdir(parents=True, exist_ok=True)
        write_csv(data, base.with_suffix(".csv"))
        write_xlsx(data, base.with_suffix(".xlsx"))
        print(f"{data.path}.csv, .xlsx: {len(data.rows)} rows, {len(data.columns)} columns")


if __name__ == "__main__":
    main()
