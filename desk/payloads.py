"""The wire form of labels and customer notes: one shape for the REST answers and the agents' live frames."""

from __future__ import annotations

from typing import Any

from desk.models import CustomerNote, Label


def label_payload(label: Label) -> dict[str, Any]:
    return {"id": label.pk, "name": label.name}


def note_payload(note: CustomerNote) -> dict[str, Any]:
    return {
        "id": note.pk,
        "body": note.body,
        "author": {"id": note.author_id, "name": note.author.display_name},
        "created_at": note.created_at.isoformat(),
    }
