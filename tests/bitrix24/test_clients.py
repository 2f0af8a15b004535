"""Real Bitrix24 client libraries, written by others, against the facade of a real server:
fast-bitrix24 and bitrix24-rest over HTTP, b24pysdk (Bitrix24's own) over HTTPS with a certificate
made here, served by `smartflow serve --ssl-certfile/--ssl-keyfile`. Each lists the 130 deals across
pages with the right total, reads, adds, updates and deletes, and sees exactly the fields its user may."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bitrix24.support import CANARY, ETID, ITEMS, Portal, portal
from tests.http.test_serve import environment, wait_listening
from tests.runtime.support import module_url
from tests.web.support import free_port

__all__ = ["module_url", "portal"]
ALL_FIELDS = {"ufCrm1Amount", "ufCrm1Qty", "ufCrm1Urgent", "ufCrm1Kind", "ufCrm1Due", "ufCrm1SecretNote",
              "ufCrm1Approver"}
VIEWER_FIELDS = ALL_FIELDS - {"ufCrm1Amount", "ufCrm1SecretNote"}
pytestmark = pytest.mark.db


def _own_fields(item: dict[str, Any]) -> set[str]:
    return {key for key in item if key.startswith("ufCrm")}


def in_a_thread_of_its_own(check: Callable[[], None]) -> None:
    """Run a check with a synchronous Bitrix24 client (fast-bitrix24, bitrix24-rest) in a fresh thread
    with an event loop of its own. Such a client runs on the thread's current event loop and, when that
    loop is already running, returns an unfinished Task instead of the answer — as it is in any thread
    where Playwright's synchronous API is active (a browser test run earlier in the same process)."""
    failure: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            check()
        except BaseException as exc:  # handed to the test's thread
            failure.append(exc)
        finally:
            loop.close()
            asyncio.set_event_loop(None)

    thread = threading.Thread(target=run, name="fast-bitrix24")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def test_fast_bitrix24_lists_reads_and_writes(portal: Portal) -> None:
    in_a_thread_of_its_own(lambda: _lists_reads_and_writes(portal))


def _lists_reads_and_writes(portal: Portal) -> None:
    from fast_bitrix24 import Bitrix

    boss = Bitrix(portal.webhook("boss"), verbose=False)
    items = boss.get_all("crm.item.list", {"entityTypeId": ETID})
    assert len(items) == ITEMS and len({i["id"] for i in items}) == ITEMS  # 50 + a batch of pages 2 and 3
    assert all(_own_fields(i) == ALL_FIELDS for i in items)
    assert {i["ufCrm1SecretNote"] for i in items} == {CANARY}

    big = boss.get_all("crm.item.list", {"entityTypeId": ETID, "filter": {">ufCrm1Qty": 100}, "select": ["id"]})
    assert sorted(i["id"] for i in big) == sorted(i["id"] for i in items if i["ufCrm1Qty"] > 100)
    items.sort(key=lambda i: i["id"])  # get_all loses the order (it de-duplicates through a set)
    one = boss.call("crm.item.get", {"entityTypeId": ETID, "id": items[6]["id"]})
    assert one["title"] == items[6]["title"]
    pair = boss.get_by_ID("crm.item.get", [items[2]["id"], items[3]["id"]], ID_field_name="id",
                          params={"entityTypeId": ETID})
    assert {int(k): v["item"]["title"] for k, v in pair.items()} == {items[2]["id"]: items[2]["title"],
                                                                   items[3]["id"]: items[3]["title"]}

    seller = Bitrix(portal.webhook("anna"), verbose=False)
    added = seller.call("crm.item.add", {"entityTypeId": ETID, "fields": {
        "title": "Поставка / Supply", "ufCrm1Amount": "1500.50|RUB", "UF_CRM_1_QTY": 7, "ufCrm1Urgent": "Y",
        "ufCrm1Kind": items[0]["ufCrm1Kind"], "ufCrm1Due": "2027-01-15T00:00:00+03:00", "unknownField": 1}})
    new_id = added["id"]
    stored = portal.db.admin.get("deal", new_id)
    assert (stored["title"], stored["qty"], stored["urgent"], stored["due"].isoformat()) == \
        ("Поставка / Supply", 7, True, "2027-01-15")
    assert format(stored["amount"]["amount"], "f") == "1500.50"
    assert added["ufCrm1Amount"] == "1500.50|RUB"

    updated = seller.call("crm.item.update", {"entityTypeId": ETID, "id": new_id,
                                              "fields": {"ufCrm1Qty": 8, "stageId": f"DT{ETID}_1:OFFER"}})
    assert (updated["ufCrm1Qty"], updated["stageId"]) == (8, f"DT{ETID}_1:OFFER")
    history = portal.db.admin.history("deal", new_id)
    assert [row["via"] for row in history][-1] == "bitrix24" and history[-1]["who"] == "anna"

    seller.call("crm.item.delete", {"entityTypeId": ETID, "id": new_id})
    with pytest.raises(Exception, match="NOT_FOUND"):
        seller.call("crm.item.get", {"entityTypeId": ETID, "id": new_id})
    assert portal.db.admin.count("deal") == ITEMS


def test_fast_bitrix24_as_a_user_with_hidden_fields(portal: Portal) -> None:
    in_a_thread_of_its_own(lambda: _as_a_user_with_hidden_fields(portal))


def _as_a_user_with_hidden_fields(portal: Portal) -> None:
    from fast_bitrix24 import Bitrix

    viewer = Bitrix(portal.webhook("vera"), verbose=False)
    items = viewer.get_all("crm.item.list", {"entityTypeId": ETID})
    assert len(items) == ITEMS
    assert all(_own_fields(i) == VIEWER_FIELDS for i in items)
    assert CANARY not in repr(items)
    fields = viewer.get_all("crm.item.fields", {"entityTypeId": ETID})
    assert {name for name in fields if name.startswith("ufCrm")} == VIEWER_FIELDS
    with pytest.raises(Exception, match="ACCESS_DENIED"):
        viewer.call("crm.item.add", {"entityTypeId": ETID, "fields": {"title": "not mine to add"}})


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_bitrix24_rest_lists_over_get_and_writes(portal: Portal) -> None:
    in_a_thread_of_its_own(lambda: _bitrix24_rest_lists_over_get_and_writes(portal))  # the same loop test


def _bitrix24_rest_lists_over_get_and_writes(portal: Portal) -> None:
    from bitrix24 import Bitrix24

    seller = Bitrix24(portal.webhook("anna"))
    listed = seller.callMethod("crm.item.list", {"entityTypeId": ETID, "select": ["id", "title", "ufCrm1Qty"]})
    items = listed["items"]
    assert len(items) == ITEMS and len({i["id"] for i in items}) == ITEMS
    assert all(set(i) == {"id", "title", "ufCrm1Qty"} for i in items)
    some = seller.callMethod("crm.item.list", {"entityTypeId": ETID, "filter": {">ufCrm1Qty": 59, "<ufCrm1Qty": 70}})
    assert sorted(i["ufCrm1Qty"] for i in some["items"]) == list(range(60, 70))

    added = seller.callMethod("crm.item.add", {"entityTypeId": ETID, "fields": {"title": "Через GET", "ufCrm1Qty": 3}})
    new_id = added["item"]["id"]
    seller.callMethod("crm.item.update", {"entityTypeId": ETID, "id": new_id, "fields": {"title": "Renamed"}})
    assert seller.callMethod("crm.item.get", {"entityTypeId": ETID, "id": new_id})["item"]["title"] == "Renamed"
    seller.callMethod("crm.item.delete", {"entityTypeId": ETID, "id": new_id})
    assert portal.db.admin.count("deal") == ITEMS

    viewer = Bitrix24(portal.webhook("vera"))
    seen = viewer.callMethod("crm.item.list", {"entityTypeId": ETID})["items"]
    assert len(seen) == ITEMS and all(_own_fields(i) == VIEWER_FIELDS for i in seen)


@pytest.fixture
def tls_server(portal: Portal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`smartflow serve` over HTTPS on the portal's database, with a certificate of a CA made here (and
    trusted by requests through REQUESTS_CA_BUNDLE, as b24pysdk's users do)."""
    import trustme

    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.cert_chain_pems[0].write_to_path(str(certfile))
    certificate.private_key_pem.write_to_path(str(keyfile))
    authority.cert_pem.write_to_path(str(cafile))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cafile))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "smartflow", "serve", "--port", str(port), "--db", portal.url,
                               "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)],
                              env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(port, server)
        yield f"127.0.0.1:{port}"
    finally:
        gc.collect()  # the clients' pooled TLS connections, closed as their sessions go
        server.terminate()
        try:  # (a TLS connection a client left open holds uvicorn's graceful stop for up to 30 s)
            server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate(timeout=30)


def test_b24pysdk_over_tls(portal: Portal, tls_server: str) -> None:
    from b24pysdk import BitrixWebhook, Client
    from b24pysdk.errors import BitrixAPIError

    def client(login: str) -> Any:
        return Client(BitrixWebhook(domain=tls_server, webhook_token=f"{portal.ids[login]}/{portal.tokens[login]}"))

    boss = client("boss")
    page = boss.crm.item.list(entity_type_id=ETID, select=["id", "title"]).response
    assert (len(page.result["items"]), page.total, page.next) == (50, ITEMS, 50)
    listed = boss.crm.item.list(entity_type_id=ETID).as_list().result
    assert len(listed) == ITEMS and len({i["id"] for i in listed}) == ITEMS
    assert all(_own_fields(i) == ALL_FIELDS for i in listed)
    fast = list(boss.crm.item.list(entity_type_id=ETID, select=["id", "title"]).as_list_fast().result)
    assert sorted(i["id"] for i in fast) == sorted(i["id"] for i in listed)

    seller = client("anna")
    new_id = seller.crm.item.add(entity_type_id=ETID, fields={"title": "TLS", "ufCrm1Qty": 5}).result["item"]["id"]
    updated = seller.crm.item.update(entity_type_id=ETID, bitrix_id=new_id, fields={"ufCrm1Qty": 6}).result
    assert updated["item"]["ufCrm1Qty"] == 6  # (b24pysdk calls lazily: on reading .result)
    assert seller.crm.item.get(entity_type_id=ETID, bitrix_id=new_id).result["item"]["ufCrm1Qty"] == 6
    batch = seller.call_batch({"one": seller.crm.item.get(entity_type_id=ETID, bitrix_id=new_id),
                               "types": seller.crm.type.list()}).result
    assert batch.result["one"]["item"]["title"] == "TLS"
    assert not seller.crm.item.delete(entity_type_id=ETID, bitrix_id=new_id).result
    with pytest.raises(BitrixAPIError) as refused:
        _ = seller.crm.item.get(entity_type_id=ETID, bitrix_id=new_id).result
    assert refused.value.error == "NOT_FOUND"

    viewer = client("vera")
    seen = viewer.crm.item.list(entity_type_id=ETID).as_list().result
    assert len(seen) == ITEMS and all(_own_fields(i) == VIEWER_FIELDS for i in seen)
