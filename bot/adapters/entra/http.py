"""MSAL's HTTP client: a small adapter on urllib3's connection pools.

MSAL asks its ``http_client`` for ``get(url, params=None, headers=None, **kwargs)``,
``post(url, params=None, data=None, headers=None, **kwargs)`` and ``close()``, and reads
``status_code``, ``text``, ``headers`` and ``raise_for_status()`` of the answers
(``msal.oauth2cli.http``). A ``requests.Session`` does that, but a fleet check signs in to a
thousand tenants (OIDC discovery and a token request each), and requests' per-request bookkeeping
(request preparation, cookie jars, hooks, settings merges) was most of the sign-in's CPU. requests
itself sends with urllib3; this module sends with urllib3 directly and keeps what the bot relied on:

- the CA bundle: ``SSL_CERT_FILE``'s, else the system's (``bot.adapters.tls.ssl_context``),
  whatever ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` say at request time;
- the (connect, read) timeout of ``APNS_NETWORK_TIMEOUT`` on every request, and no retries: a host
  that did not answer in time is reported at once (callers retry later). Redirects are not
  followed: Entra ID's discovery and token endpoints answer directly, and a token request carries
  a secret or an assertion that must not be re-sent elsewhere;
- the environment's proxies (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, ``NO_PROXY``), resolved
  once per origin with requests' own rules; credentials in a proxy URL become
  ``Proxy-Authorization``;
- form encoding as requests does it: a ``data`` dict is urlencoded with ``None`` values dropped and
  ``bytes`` values (a certificate's client assertion may be bytes) sent as their bytes;
- failures as requests' exception classes (``ConnectTimeout``, ``ReadTimeout``, ``SSLError``,
  ``ProxyError``, ``ConnectionError``, ``HTTPError`` with ``.response``), chained from urllib3's, so
  every caller's ``except requests.RequestException`` and ``network_error`` read them as before.

One instance is shared by all tenants' MSAL apps and many threads: urllib3's pool managers are
thread-safe, and the two caches here (proxies per origin, a manager per proxy) take a lock to fill.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import requests
import urllib3
from requests import exceptions as rex
from requests.utils import prepend_scheme_if_needed, select_proxy
from urllib3 import exceptions as u3

from bot.adapters.tls import ssl_context

Timeout = float | tuple[float, float]  # (connect, read) or one value for both
FORM = "application/x-www-form-urlencoded"
NUM_POOLS = 10  # hosts kept per pool manager (requests' default); MSAL talks to one or two


class Response:
    """An answer as MSAL reads it (``msal.oauth2cli.http.Response``), body already read."""

    __slots__ = ("content", "headers", "status_code", "url")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes, url: str):
        self.status_code = status_code
        self.headers = headers  # urllib3's HTTPHeaderDict: case-insensitive
        self.content = content
        self.url = url

    @property
    def text(self) -> str:
        charset = "utf-8"
        for part in str(self.headers.get("Content-Type", "")).split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip("\"'")
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            kind = "Client" if self.status_code < 500 else "Server"
            raise requests.HTTPError(
                f"{self.status_code} {kind} Error for url: {self.url}",
                response=self,  # read for .status_code only
            )


def _encoded(values: Any) -> str:
    """``params``/``data`` as requests encodes them: a string as is, a mapping or pairs with
    ``None`` dropped, lists as repeated keys, ``bytes`` as their bytes."""
    if isinstance(values, str | bytes):
        return values.decode() if isinstance(values, bytes) else values
    items = values.items() if isinstance(values, Mapping) else values
    pairs: list[tuple[Any, Any]] = []
    for key, value in items:
        many = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, v) for v in many if v is not None)
    return urlencode(pairs)


def _with_query(url: str, params: Any) -> str:
    query = _encoded(params) if params else ""
    if not query:
        return url
    base, hash_mark, fragment = url.partition("#")
    joined = f"{base}&{query}" if urlsplit(base).query else f"{base.rstrip('?')}?{query}"
    return joined + hash_mark + fragment


def _requests_error(exc: Exception) -> rex.RequestException:
    """urllib3's (or the socket's) failure as the requests exception requests would raise."""
    reason = exc.reason if isinstance(exc, u3.MaxRetryError) and exc.reason else exc
    if isinstance(reason, u3.ProxyError):
        return rex.ProxyError(exc)
    if isinstance(reason, u3.SSLError):
        return rex.SSLError(exc)
    if isinstance(reason, u3.NewConnectionError):  # a subclass of ConnectTimeoutError
        return rex.ConnectionError(exc)
    if isinstance(reason, u3.ConnectTimeoutError):
        return rex.ConnectTimeout(exc)
    if isinstance(reason, u3.ReadTimeoutError):
        return rex.ReadTimeout(exc)
    if isinstance(reason, u3.LocationValueError):
        return rex.InvalidURL(exc)
    if isinstance(reason, u3.DecodeError):
        return rex.ContentDecodingError(exc)
    return rex.ConnectionError(exc)


class SignInHttpClient:
    """MSAL's ``http_client``: trusts ``ca_bundle`` (else the system's CAs), applies ``timeout`` to
    every request, uses the environment's proxies, keeps ``pool_size`` connections per host.

    A client shared by many tenants' MSAL apps (one sign-in host) needs as many connections as
    tenants are read at once.
    """

    def __init__(self, ca_bundle: Path | None, timeout: Timeout, pool_size: int = 10) -> None:
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self.timeout = urllib3.Timeout(connect=connect, read=read)
        self._pool_kw: dict[str, Any] = {
            "num_pools": NUM_POOLS,
            "maxsize": pool_size,
            "block": False,  # as requests: beyond pool_size, extra connections are not kept
            "ssl_context": ssl_context(ca_bundle),
        }
        self._direct = urllib3.PoolManager(**self._pool_kw)
        self._via: dict[str, urllib3.PoolManager] = {}  # by proxy URL
        self._proxies: dict[tuple[str, str], dict[str, str]] = {}  # by (scheme, netloc)
        self._lock = threading.Lock()

    # --- MSAL's interface ----------------------------------------------------------------------

    def get(
        self, url: str, params: Any = None, headers: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Response:
        return self.request("GET", url, params=params, headers=headers, **kwargs)

    def post(
        self,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Response:
        return self.request("POST", url, params=params, data=data, headers=headers, **kwargs)

    def close(self) -> None:
        with self._lock:
            managers = [self._direct, *self._via.values()]
            self._via.clear()
        for manager in managers:
            manager.clear()

    # --- the rest ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        data: Any = None,
        headers: Mapping[str, Any] | None = None,
        timeout: Timeout | None = None,
        **_ignored: Any,  # MSAL's pass-through keywords requests would not use either
    ) -> Response:
        sent = {k: str(v) for k, v in (headers or {}).items() if v is not None}
        body: bytes | None = None
        if data is not None:
            if isinstance(data, bytes):
                body = data
            elif isinstance(data, str):
                body = data.encode()
            else:
                body = _encoded(data).encode()
                if not any(k.lower() == "content-type" for k in sent):
                    sent["Content-Type"] = FORM
        full_url = _with_query(url, params)
        manager = self._manager_for(full_url)  # a malformed proxy URL: requests' ProxyError
        try:
            answer = manager.request(
                method,
                full_url,
                body=body,
                headers=sent,
                timeout=self.timeout if timeout is None else _urllib3_timeout(timeout),
                retries=False,
                redirect=False,
            )
        except (u3.HTTPError, OSError) as exc:
            raise _requests_error(exc) from exc
        return Response(answer.status, answer.headers, answer.data, full_url)

    def proxies_for(self, url: str) -> dict[str, str]:
        """The environment's proxies for ``url``'s origin: ``{}`` when ``NO_PROXY`` covers it.
        Read once per origin (with ``trust_env``, requests read all of ``os.environ`` per request:
        a tenth of a fleet check's CPU), as httpx does for Graph when its client is built."""
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        found = self._proxies.get(origin)
        if found is None:
            found = dict(requests.utils.get_environ_proxies(url))
            with self._lock:
                self._proxies[origin] = found
        return found

    def _manager_for(self, url: str) -> urllib3.PoolManager:
        proxy = select_proxy(url, self.proxies_for(url))
        if not proxy:
            return self._direct
        manager = self._via.get(proxy)
        if manager is None:
            with self._lock:
                manager = self._via.get(proxy)
                if manager is None:
                    manager = self._via[proxy] = self._proxy_manager(proxy)
        return manager

    def _proxy_manager(self, proxy: str) -> urllib3.PoolManager:
        try:
            return self._build_proxy_manager(proxy)
        except rex.InvalidSchema:
            raise
        except (rex.RequestException, u3.HTTPError, ValueError):
            # The parsers' messages quote the URL, credentials included: say which setting instead.
            # Not requests' InvalidProxyURL: it is a ValueError, which MSAL's discovery reports as
            # a wrong tenant or authority.
            raise rex.ProxyError(
                "The proxy URL (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY) is malformed."
            ) from None

    def _build_proxy_manager(self, proxy: str) -> urllib3.PoolManager:
        proxy_url = prepend_scheme_if_needed(proxy, "http")
        parts = urlsplit(proxy_url)
        if not parts.hostname:
            raise rex.InvalidProxyURL(
                "Please check proxy URL. It is malformed and could be missing the host."
            )
        if parts.scheme.startswith("socks"):
            try:
                from urllib3.contrib.socks import SOCKSProxyManager
            except ImportError as exc:  # PySocks is not installed
                raise rex.InvalidSchema("Missing dependencies for SOCKS support.") from exc
            return SOCKSProxyManager(
                proxy_url,
                username=unquote(parts.username) if parts.username else None,
                password=unquote(parts.password) if parts.password else None,
                **self._pool_kw,
            )
        proxy_headers: dict[str, str] = {}
        if parts.username:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            proxy_headers = urllib3.make_headers(proxy_basic_auth=credentials)
        return urllib3.ProxyManager(
            proxy_url,
            proxy_headers=proxy_headers,
            proxy_ssl_context=self._pool_kw["ssl_context"],
            **self._pool_kw,
        )


def _urllib3_timeout(timeout: Timeout) -> urllib3.Timeout:
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return urllib3.Timeout(connect=connect, read=read)
