"""API tokens in the administration pages: an administrator makes one for a user (shown once), the
token works on the API as that user, revoking it stops it at once; nobody else may do either."""

from __future__ import annotations

import re

import pytest

from tests.web.support import Site, http_client, post_sign_in

pytestmark = pytest.mark.db


def test_an_administrator_makes_and_revokes_a_users_token(site: Site) -> None:
    with http_client(site, follow_redirects=False) as boss, \
            http_client(site, follow_redirects=False) as buyer, \
            http_client(site) as api:
        post_sign_in(boss, "boss")
        post_sign_in(buyer, "ivanova")
        csrf = boss.cookies["smartflow_csrf"]
        made = boss.post("/admin/users/ivanova/tokens", data={"csrf": csrf, "expires": "90d"})
        assert made.status_code == 200
        secret = re.search(r'<code class="new-token">([^<]+)</code>', made.text).group(1)
        listed = site.admin.tokens("ivanova")
        assert len(listed) == 1 and listed[0]["expires_at"] is not None and listed[0]["revoked_at"] is None
        assert f'data-token-id="{listed[0]["id"]}"' in made.text
        assert secret not in boss.get("/admin/users/ivanova").text  # shown on the answer that made it only

        who = api.get("/api/v1/processes", headers={"Authorization": f"Bearer {secret}"})
        assert who.status_code == 200 and [p["id"] for p in who.json()["processes"]] == ["procurement"]

        refused = buyer.post("/admin/users/ivanova/tokens", data={"csrf": buyer.cookies["smartflow_csrf"]})
        assert refused.status_code == 403
        assert buyer.post(f"/admin/users/ivanova/tokens/{listed[0]['id']}/revoke",
                          data={"csrf": buyer.cookies["smartflow_csrf"]}).status_code == 403
        assert boss.post(f"/admin/users/ivanova/tokens/{listed[0]['id']}/revoke",
                         data={"csrf": "forged"}).status_code == 403
        assert api.get("/api/v1/processes", headers={"Authorization": f"Bearer {secret}"}).status_code == 200

        revoked = boss.post(f"/admin/users/ivanova/tokens/{listed[0]['id']}/revoke", data={"csrf": csrf})
        assert revoked.status_code == 303
        assert api.get("/api/v1/processes", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
        assert site.admin.tokens("ivanova")[0]["revoked_at"] is not None
