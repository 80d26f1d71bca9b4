"""`presence.set` with `hand_back`: going away or offline, the agent's active chats go back to the queue."""

import pytest
from channels.db import database_sync_to_async

from agents.models import Agent
from chat import lifecycle
from chat.models import Conversation, ConversationStatus
from routing.services import assignment_run
from tests.factories import AgentFactory, BusinessLineFactory, CustomerFactory
from tests.routing.helpers import connect
from tests.test_consumers import agent_path, expect, open_socket

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chatting(db):
    """An online agent with one active conversation."""
    line = BusinessLineFactory()
    agent = AgentFactory(business_lines=[line], presence="online")
    connect(agent)
    conversation, _created = lifecycle.conversation_start(customer=CustomerFactory(business_line=line), channel="web")
    assignment_run(business_line_id=line.id)
    return agent, conversation


async def test_hand_back_with_away_requeues_the_agents_chats(chatting):
    agent, conversation = chatting
    socket = await open_socket(await agent_path(agent))
    await expect(socket, "conversation.assigned")
    await socket.send_json_to({"type": "presence.set", "status": "away", "hand_back": True, "ref": "p"})
    reply = await expect(socket, "presence.state", where=lambda f: f.get("ref") == "p")
    assert reply["status"] == "away"
    state = await expect(socket, "conversation.state", where=lambda f: f["conversation"]["id"] == conversation.id)
    assert (state["conversation"]["status"], state["conversation"]["agent"]) == ("waiting", None)
    await socket.disconnect()


@pytest.mark.parametrize("fields", [{"status": "online", "hand_back": True}, {"status": "away", "hand_back": "yes"}])
async def test_a_bad_hand_back_is_refused_and_changes_nothing(chatting, fields):
    agent, conversation = chatting
    socket = await open_socket(await agent_path(agent))
    await expect(socket, "conversation.assigned")
    await socket.send_json_to({"type": "presence.set", **fields, "ref": "bad"})
    error = await expect(socket, "error")
    assert (error["code"], error["ref"]) == ("invalid_field", "bad")
    await socket.disconnect()
    refreshed = await database_sync_to_async(Conversation.objects.get)(id=conversation.id)
    assert (refreshed.status, refreshed.agent_id) == (ConversationStatus.ACTIVE, agent.id)
    assert (await database_sync_to_async(Agent.objects.get)(id=agent.id)).presence == "online"
