"""The one policy for every request smartflow's worker makes to a URL someone wrote (a trigger's
`webhook` in YAML): http(s) only; with an allow-list, only its hosts; and never to a private,
loopback, link-local or otherwise non-public address unless that host is allow-listed.

The address is checked where the socket connects, after DNS resolution: a name resolving to
127.0.0.1 (or re-resolving to it between a check and the connection) is refused like the address
itself. Redirects are never followed (a 3xx is a failed delivery), so no redirect can lead past the
policy either; requests go straight to the host, not through $HTTP_PROXY.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

# whether the request under way may reach a non-public address (its host is allow-listed)
_PRIVATE_ALLOWED: ContextVar[bool] = ContextVar("smartflow_outbound_private_allowed", default=False)


class OutboundRefused(OSError):
    """A request the policy does not make."""


def public(address: str) -> bool:
    """Whether an IP address is on the public internet (not private, loopback, link-local, shared,
    reserved, multicast or unspecified; an IPv4 address mapped into IPv6 counts as itself)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def allowed(host: str, allow_hosts: set[str] | None) -> bool:
    return allow_hosts is not None and host.lower().strip("[]") in {h.lower().strip("[]") for h in allow_hosts}


def check_url(url: str, allow_hosts: set[str] | None) -> str:
    """The URL's host, or OutboundRefused: not http(s), or a host outside the allow-list."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused(f"{url} is not an http(s) URL")
    if allow_hosts is not None and not allowed(parts.hostname, allow_hosts):
        raise OutboundRefused(f"the host {parts.hostname} is not in the allow-list")
    return parts.hostname


def _only_public(host: str, found: list[Any]) -> None:
    for *_, sockaddr in found:
        if not public(str(sockaddr[0])):
            raise OutboundRefused(f"{host} resolves to {sockaddr[0]}, which is not a public address "
                                  f"(allow-list the host to call it: --allow-host {host}, "
                                  f"or SMARTFLOW_WEBHOOK_HOSTS)")


def refusal(url: str, allow_hosts: set[str] | None) -> str | None:
    """Why the policy would not call url now (None: it would), resolving its host as a request would:
    for a URL kept to call later (an event subscription), so that its owner hears of it at once. The
    request itself is checked again where it connects."""
    try:
        host = check_url(url, allow_hosts)
        if not allowed(host, allow_hosts):
            port = urlsplit(url).port or (443 if url.lower().startswith("https") else 80)
            try:
                found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror:
                return f"the host {host} cannot be resolved"
            _only_public(host, found)
    except OutboundRefused as refused:
        return str(refused)
    except ValueError as exc:  # a port that is not a number
        return f"{url} is not a valid URL: {exc}"
    return None


def _connect(address: tuple[str, int], timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
             source_address: Any = None) -> socket.socket:
    """socket.create_connection, refusing a non-public address unless the host is allow-listed."""
    host, port = address
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not _PRIVATE_ALLOWED.get():
        _only_public(host, found)
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in found:
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)  # the very address checked above
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"cannot connect to {host}")


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: Any) -> Any:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: Any) -> Any:
        return self.do_open(_HTTPSConnection, req, context=self._context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as its status (a failure to retry), never followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect, _HTTPHandler, _HTTPSHandler)


def permitting_private(host: str, allow_hosts: set[str] | None) -> Any:
    """Set for the request under way whether it may reach a non-public address; returns the token to
    reset it with (`_PRIVATE_ALLOWED.reset`)."""
    return _PRIVATE_ALLOWED.set(allowed(host, allow_hosts))


def reset(token: Any) -> None:
    _PRIVATE_ALLOWED.reset(token)
