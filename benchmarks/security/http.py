"""The attacker's HTTP: one synchronous request at a time to the loopback server, and a browser with cookies.

Requests are ``benchmarks.client.HttpRequest`` and answers ``HttpResponse`` (the harness's own types), sent
with ``http.client`` and a timeout on every exchange: the suite sends a few hundred requests, one after the
other, where the asyncio client of the load generator would only add ceremony. Every exchange is written to
the attack's trace, which becomes the evidence of its verdict. Only ``127.0.0.1`` is ever contacted.
"""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from benchmarks.client import LOOPBACK, HttpRequest, HttpResponse
from benchmarks.scenarios import envelope_code

EXCERPT_CHARS = 300
_TOKEN = re.compile(r'("token"\s*:\s*")[^"]+"')  # API tokens stay out of reports, even throwaway ones
_CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class Answer(HttpResponse):
    """An ``HttpResponse`` with its ``Set-Cookie`` lines (several headers of one name)."""

    cookies: tuple[str, ...] = ()


@dataclass
class Exchange:
    """One request and its answer, as the report shows it."""

    method: str
    path: str
    status: int
    code: str
    body: str
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v != ""}


@dataclass
class Client:
    """Requests to ``127.0.0.1:port``; every exchange is appended to ``trace``."""

    port: int
    timeout_s: float = 15.0
    trace: list[Exchange] = field(default_factory=list)

    def send(self, request: HttpRequest, *, note: str = "") -> Answer:
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.timeout_s)
        try:
            connection.putrequest(request.method, request.path, skip_accept_encoding=True)
            for name, value in request.headers.items():
                connection.putheader(name, value)
            if request.body or request.method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(request.body)))
            connection.endheaders(request.body or None)
            answer = connection.getresponse()
            headers = {name.lower(): value for name, value in answer.getheaders()}
            cookies = tuple(value for name, value in answer.getheaders() if name.lower() == "set-cookie")
            response = Answer(status=answer.status, headers=headers, body=answer.read(), cookies=cookies)
        finally:
            connection.close()
        excerpt = _TOKEN.sub(r'\1***"', response.body[:EXCERPT_CHARS].decode("utf-8", "replace"))
        self.trace.append(
            Exchange(request.method, request.path[:120], response.status, envelope_code(response), excerpt, note)
        )
        return response

    def get(self, path: str, headers: dict[str, str] | None = None, *, note: str = "") -> Answer:
        return self.send(HttpRequest("GET", path, headers or {}), note=note)

    def post_json(self, path: str, payload: Any, headers: dict[str, str] | None = None, *, note: str = "") -> Answer:
        body = json.dumps(payload).encode()
        return self.send(
            HttpRequest("POST", path, {"Content-Type": "application/json", **(headers or {})}, body), note=note
        )


class Browser:
    """A browser behind the TLS proxy: keeps its cookies, says ``X-Forwarded-Proto: https`` as nginx does.

    Production cookies are ``Secure`` and CSRF checks the origin of an https request, so the browser
    presents itself as the proxied https site it would be in production.
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.origin = f"https://{LOOPBACK}:{client.port}"

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"X-Forwarded-Proto": "https", "Accept": "text/html,application/json"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return {**headers, **(extra or {})}

    def _keep(self, response: Answer) -> Answer:
        for line in response.cookies:
            pair = line.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if not value or "max-age=0" in line.lower() or "expires=thu, 01 jan 1970" in line.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip().strip('"')
        return response

    def get(self, path: str, *, note: str = "") -> Answer:
        return self._keep(self.client.send(HttpRequest("GET", path, self._headers()), note=note))

    def post_form(self, path: str, fields: dict[str, str], *, note: str = "") -> Answer:
        headers = self._headers(
            {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin, "Referer": self.origin + path}
        )
        return self._keep(self.client.send(HttpRequest("POST", path, headers, urlencode(fields).encode()), note=note))

    def login(self, path: str, username: str, password: str, *, next_url: str = "/") -> Answer:
        """The password form at ``path`` (``/login`` or ``/admin/login/``), with its CSRF token."""
        page = self.get(path, note="login form")
        match = _CSRF_INPUT.search(page.body)
        token = match.group(1).decode() if match else ""
        fields = {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": next_url}
        return self.post_form(path, fields, note="log in")
