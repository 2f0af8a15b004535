"""The clinic example's test results (a multiple file field of pdf, jpg, png and dcm files): the
registrar attaches them, the doctor reads them, and the field's kinds hold."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartflow.errors import InvalidValue
from smartflow.services import Engine
from smartflow.services import deploy as deploying
from tests.dbutil import backends, database_url
from tests.files.support import PDF, PNG

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=backends())
def clinic(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    for url in database_url(request.param, tmp_path_factory.mktemp("clinic")):
        deploying.apply([ROOT / "processes"], url)
        with Engine(url) as admin:
            admin.add_user("sokolova", "Ольга Соколова", ["registrar"], None, ["patient"])
            admin.add_user("lebedev", "Михаил Лебедев", ["doctor"], None, ["patient"])
            yield admin


def test_the_registrar_attaches_results_the_doctor_reads_them(clinic: Engine) -> None:
    registrar, doctor = clinic.as_user("sokolova"), clinic.as_user("lebedev")
    patient = registrar.create("patient", {"title": "Иванов Иван", "birth_date": "1980-01-02",
                                           "phone": "+7 900 000-00-00"})
    listed = registrar.attach_files("patient", patient, "test_results", [("анализ крови.pdf", PDF),
                                                                          ("снимок.png", PNG)])
    assert [(f["name"], f["content_type"]) for f in listed] == [("анализ крови.pdf", "application/pdf"),
                                                                ("снимок.png", "image/png")]
    info, content = doctor.file("patient", patient, listed[0]["id"])
    assert info["name"] == "анализ крови.pdf" and content == PDF
    assert [f["name"] for f in doctor.get("patient", patient, files=True)["test_results"]] == \
        ["анализ крови.pdf", "снимок.png"]
    with pytest.raises(InvalidValue, match=r"notes\.docx is not one of the allowed kinds"):
        registrar.attach_files("patient", patient, "test_results", [("notes.docx", b"PK\x03\x04")])
