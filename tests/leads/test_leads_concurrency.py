"""Two people moving cards at the same moment: one wins, the other hears 409, and the
order of every column stays one consistent order."""

from __future__ import annotations

import threading

from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead, LeadActivity
from support import csrf_token


def _race(calls):
    """Run the calls at the same moment in threads; returns their responses in order."""
    barrier = threading.Barrier(len(calls))
    responses: list = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        responses[index] = call()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def _column(db, stage_id):
    db.expire_all()
    return list(db.scalars(select(Lead).where(Lead.stage_id == stage_id).order_by(Lead.position, Lead.id)))


def _mover(client):
    token = csrf_token(client)

    def move(lead_id, body):
        return lambda: client.post_json(
            f"/api/v1/leads/{lead_id}/move", body, headers={"X-CSRF-Token": token}, expect_errors=True
        )

    return move


def test_two_people_move_the_same_card_at_once(
    db, login_as, another_client, make_user, company, owner, stages, make_lead
):
    manager = make_user(company, "MANAGER")
    first, second = _mover(login_as(owner)), _mover(login_as(manager, another_client()))
    for name in ("A", "B"):
        make_lead(name, stage=stages[1])
        make_lead(name, stage=stages[2])
    for round_number in range(3):
        lead = make_lead(f"Contested {round_number}")
        responses = _race(
            [
                first(lead.id, {"stage_id": stages[1].id, "position": 1, "version": 1}),
                second(lead.id, {"stage_id": stages[2].id, "position": 0, "version": 1}),
            ]
        )
        statuses = sorted(response.status_int for response in responses)
        assert statuses == [200, 409], [response.text for response in responses]
        winner = next(response for response in responses if response.status_int == 200).json
        loser = next(response for response in responses if response.status_int == 409).json
        assert loser["error"]["code"] == "conflict"
        db.expire_all()
        stored = db.get(Lead, lead.id)
        assert (stored.stage_id, stored.version) == (winner["stage_id"], 2)
        # Exactly one move happened: one audit entry, one timeline line.
        moves = db.scalars(
            select(AuditEntry).where(AuditEntry.action == "lead.move", AuditEntry.target_id == str(lead.id))
        ).all()
        assert len(moves) == 1
        assert db.scalars(select(LeadActivity.kind).where(LeadActivity.lead_id == lead.id)).all() == ["moved"]
        names = [row.name for row in _column(db, winner["stage_id"])]
        assert names.index(stored.name) == (1 if winner["stage_id"] == stages[1].id else 0)
    # Nothing lost: every lead is in exactly one place, every column in one strict order.
    all_leads = db.scalars(select(Lead)).all()
    assert len(all_leads) == 7
    for stage in stages:
        column = _column(db, stage.id)
        keys = [(lead.position, lead.id) for lead in column]
        assert keys == sorted(set(keys))


def test_many_cards_dropped_into_one_slot_at_once(
    db, login_as, another_client, make_user, company, owner, stages, make_lead
):
    anchor = make_lead("Anchor", stage=stages[1])
    after = make_lead("After", stage=stages[1])
    cards = [make_lead(f"Card {index}") for index in range(4)]
    people = [owner] + [make_user(company, "MANAGER") for _ in range(3)]
    movers = [_mover(login_as(person, another_client())) for person in people]
    responses = _race(
        [
            mover(card.id, {"stage_id": stages[1].id, "after_id": anchor.id, "version": 1})
            for mover, card in zip(movers, cards, strict=True)
        ]
    )
    assert [response.status_int for response in responses] == [200] * 4
    names = [lead.name for lead in _column(db, stages[1].id)]
    assert names[0] == "Anchor" and names[-1] == "After"
    assert sorted(names[1:-1]) == [f"Card {index}" for index in range(4)]
    del after
