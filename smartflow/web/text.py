"""The board's own words in Russian and English (the definitions bring their own titles)."""

from __future__ import annotations

from typing import Any

WORDS: dict[str, tuple[str, str]] = {  # key: (ru, en)
    "sign_in": ("Вход", "Sign in"),
    "login": ("Логин", "Login"),
    "password": ("Пароль", "Password"),
    "sign_out": ("Выйти", "Sign out"),
    "processes": ("Процессы", "Processes"),
    "no_processes": ("Нет процессов, которые вам можно читать.", "There is no process you may read."),
    "kanban": ("Канбан", "Kanban"),
    "list": ("Список", "List"),
    "inbox": ("Уведомления", "Inbox"),
    "pipeline": ("Воронка", "Pipeline"),
    "items": ("элементов", "items"),
    "move_to": ("Переместить в…", "Move to…"),
    "move": ("Переместить", "Move"),
    "cancel": ("Отмена", "Cancel"),
    "save": ("Сохранить", "Save"),
    "currency": ("Валюта", "Currency"),
    "create": ("Создать", "Create"),
    "new_item": ("Новый элемент", "New item"),
    "required_for": ("Для этапа нужно заполнить", "The stage needs"),
    "move_refused": ("Перемещение отклонено", "The move was refused"),
    "cannot_enter": ("Сюда карточку переместить нельзя", "The card cannot be moved here"),
    "loading": ("Загрузка…", "Loading…"),
    "more": ("Ещё", "More"),
    "search": ("Поиск по названию", "Search the title"),
    "filter": ("Фильтр", "Filter"),
    "reset": ("Сбросить", "Reset"),
    "from": ("от", "from"),
    "to": ("до", "to"),
    "any": ("любой", "any"),
    "yes": ("да", "yes"),
    "no": ("нет", "no"),
    "next_page": ("Следующая страница", "Next page"),
    "first_page": ("В начало", "First page"),
    "export_csv": ("Экспорт CSV", "Export CSV"),
    "export_xlsx": ("Экспорт Excel", "Export Excel"),
    "history": ("История", "History"),
    "links": ("Связи", "Links"),
    "links_out": ("Ссылается на", "Points to"),
    "links_in": ("На него ссылаются", "Pointed to by"),
    "stage": ("Этап", "Stage"),
    "title": ("Название", "Title"),
    "assigned_to": ("Ответственный", "Assigned to"),
    "created_at": ("Создан", "Created"),
    "updated_at": ("Изменён", "Updated"),
    "id": ("№", "No."),
    "stale": ("Пока вы редактировали, элемент изменили", "Someone changed the item while you were editing it"),
    "reload": ("Загрузить заново", "Reload"),
    "changed_elsewhere": ("Элемент только что изменили", "Someone has just changed this item"),
    "saved": ("Сохранено", "Saved"),
    "unread": ("непрочитанных", "unread"),
    "no_messages": ("Уведомлений нет.", "No notifications."),
    "moved": ("перемещён", "moved"),
    "changed": ("изменил(а)", "changed"),
    "created": ("создал(а)", "created"),
    "session_ended": ("Сеанс завершён: войдите снова", "Your session has ended: sign in again"),
    "wrong_login": ("Неверный логин или пароль", "Wrong login or password"),
    "login_form_stale": ("Форма входа устарела или открыта с другого сайта: войдите ещё раз с этой формой",
                         "The sign-in form was out of date or came from another site: sign in again with this form"),
    "error": ("Ошибка", "Error"),
    "back": ("Назад", "Back"),
    "empty": ("—", "—"),
    "language": ("Язык", "Language"),
    "read_only": ("Только просмотр", "Read only"),
    "no_items": ("Ничего не найдено.", "Nothing found."),
    "success": ("Успех", "Success"),
    "failure": ("Провал", "Failure"),
}


def word(key: str, lang: str) -> str:
    ru, en = WORDS[key]
    return ru if lang == "ru" else en


def title(titles: Any, lang: str, default: str = "") -> str:
    """A definition's title in lang, else in the other language, else the one written without one."""
    if not titles:
        return default
    if isinstance(titles, str):
        return titles
    values = dict(titles.values) if hasattr(titles, "values") and not isinstance(titles, dict) else dict(titles)
    for key in (lang, "", "en", "ru"):
        if values.get(key):
            return str(values[key])
    return next((str(v) for v in values.values() if v), default)
