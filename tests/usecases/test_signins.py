"""Delegated sign-in as a unit: device code flows polled step by step against a fake device code
client, a real SQLite store in tmp_path, recording Slack fakes and the suite's fixed clock (the
whole flow through the running bot and a fake Entra ID: tests/flows/test_delegated_flow.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.adapters.store import SqliteStore
from bot.core.requests import ChangeRequest, Status
from bot.core.signin import SavedSignIn
from bot.usecases.signins import DelegatedSignIns
from tests.adapters.store.fixtures import request as new_request
from tests.clock import T0, MovableClock
from tests.usecases.fakes import (
    LEAD_1,
    TENANT,
    FakeTokens,
    RecordingNotifier,
    RecordingSignInNotifier,
    settings,
    signed_in_as,
)

T = TypeVar("T")
DELEGATED = replace(TENANT, auth_mode="delegated")
EMAIL = "lead1@contoso.example"


def run_now(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """The executor, inline: a poll runs while ``poll_due`` is called."""
    return fn(*args, **kwargs)


@dataclass
class RecordingApplier:
    applied: list[tuple[str, str, bool]] = field(default_factory=list)

    def apply(self, request_id: str, *, actor: str, retry: bool = False) -> str | None:
        self.applied.append((request_id, actor, retry))
        return None


@dataclass
class World:
    signins: DelegatedSignIns
    store: SqliteStore
    tokens: FakeTokens
    people: RecordingSignInNotifier
    requests: RecordingNotifier
    applier: RecordingApplier
    clock: MovableClock

    def approved_request(self) -> ChangeRequest:
        request = new_request(DELEGATED.name, created=T0, requester="UREQ")
        self.store.create_request(request)
        self.store.add_approval(request.id, LEAD_1, T0)
        self.store.transition(request.id, Status.PENDING, Status.APPROVED, T0, actor=LEAD_1)
        fresh = self.store.get_request(request.id)
        assert fresh is not None
        return fresh

    def status(self, request_id: str) -> Status:
        request = self.store.get_request(request_id)
        assert request is not None
        return request.status


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = MovableClock()
    store = SqliteStore(tmp_path / "apns-bot.sqlite3")
    tokens = FakeTokens()
    people = RecordingSignInNotifier(emails={LEAD_1: EMAIL})
    requests = RecordingNotifier()
    config = settings(DELEGATED)
    signins = DelegatedSignIns(config, store, tokens, people, clock, run_now, requests)
    applier = RecordingApplier()
    signins.attach(applier)
    yield World(signins, store, tokens, people, requests, applier, clock)
    store.close()


def test_an_app_only_tenant_never_asks_anyone_to_sign_in(world: World) -> None:
    request = world.approved_request()
    assert world.signins.before_apply(request, TENANT, LEAD_1) is None
    assert world.tokens.codes.started == 0


def test_a_signed_in_approver_uploads_at_once(world: World) -> None:
    world.tokens.signed_in.add(LEAD_1)
    world.store.save_signin(_saved(EMAIL))
    assert world.signins.before_apply(world.approved_request(), DELEGATED, LEAD_1) is None


def test_an_approver_without_a_sign_in_gets_a_code_and_the_request_waits(world: World) -> None:
    request = world.approved_request()
    words = world.signins.before_apply(request, DELEGATED, LEAD_1)
    assert words is not None and "CODE1" in words and "microsoft.com/devicelogin" in words
    assert "secret-CODE1" not in words  # the device code is never shown
    assert world.store.signin_wait(request.id) is not None
    again = world.signins.before_apply(request, DELEGATED, LEAD_1)
    assert again is not None and "CODE1" in again and world.tokens.codes.started == 1


def test_signing_in_as_themself_uploads_what_waited(world: World) -> None:
    request = world.approved_request()
    world.signins.before_apply(request, DELEGATED, LEAD_1)
    assert world.signins.poll_due() == []  # not due before the interval
    world.clock.advance(seconds=5)
    world.signins.poll_due()  # still pending: polled again later
    assert world.applier.applied == [] and len(world.tokens.codes.polls) == 1
    world.tokens.codes.answers.append(signed_in_as(EMAIL))
    world.clock.advance(seconds=5)
    world.signins.poll_due()
    assert world.applier.applied == [(request.id, LEAD_1, False)]
    saved = world.store.get_signin(DELEGATED.name, LEAD_1)
    assert saved is not None and saved.username == EMAIL
    assert any("signed in to Microsoft" in text for _, text in world.people.told)


def test_signing_in_with_another_account_is_refused_and_fails_the_request(world: World) -> None:
    request = world.approved_request()
    world.signins.before_apply(request, DELEGATED, LEAD_1)
    world.tokens.codes.answers.append(signed_in_as("admin@contoso.example"))
    world.clock.advance(seconds=5)
    world.signins.poll_due()
    assert world.applier.applied == [] and world.store.get_signin(DELEGATED.name, LEAD_1) is None
    failed = world.store.get_request(request.id)
    assert failed is not None and failed.status is Status.FAILED
    assert failed.failure is not None and failed.failure.code == "signin_refused"
    assert world.requests.said("update_request")[-1] == request.id


def test_a_code_left_unused_expires_and_fails_the_request(world: World) -> None:
    request = world.approved_request()
    world.signins.before_apply(request, DELEGATED, LEAD_1)
    world.clock.advance(seconds=901)
    world.signins.poll_due()
    failed = world.store.get_request(request.id)
    assert failed is not None and failed.failure is not None
    assert failed.failure.code == "signin_expired"
    assert world.tokens.codes.polls == []


def test_signing_out_forgets_the_sign_in(world: World) -> None:
    world.store.save_signin(_saved(EMAIL))
    words = world.signins.signout(DELEGATED, LEAD_1)
    assert "forgot your Microsoft sign-in" in words
    assert world.store.get_signin(DELEGATED.name, LEAD_1) is None
    assert "were not signed in" in world.signins.signout(DELEGATED, LEAD_1)


def _saved(username: str) -> SavedSignIn:
    return SavedSignIn(DELEGATED.name, LEAD_1, username, "home-1", "sealed:{}", T0, T0)
