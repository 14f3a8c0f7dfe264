"""TaskRouter: a Workspace event callback, and a Workflow's assignment callback."""

from __future__ import annotations

import json

from ._model import Event, always, documented, sid, when
from ._values import ACCOUNT_SID

_EVENTS_PAGE = "https://www.twilio.com/docs/taskrouter/api/event/reference"
_ASSIGNMENT_PAGE = "https://www.twilio.com/docs/taskrouter/handle-assignment-callbacks"
_TIMESTAMP = "its format is not documented (the catalogue sends Unix seconds)"

_EVENT = documented(
    _EVENTS_PAGE,
    # "TaskRouter will POST the following parameters ... each time an Event occurs"
    always(
        _EVENTS_PAGE,
        "EventType",
        "AccountSid",
        "WorkspaceSid",
        "WorkspaceName",
        "EventDescription",
        "ResourceSid",
    ),
    always(_EVENTS_PAGE, "ResourceType", note="Task, Reservation, Worker, Activity, Workflow or Workspace"),
    always(_EVENTS_PAGE, "Timestamp", note=f"the time the event was sent; {_TIMESTAMP}"),
    when(
        _EVENTS_PAGE,
        "TaskSid",
        "TaskAttributes",
        "TaskAge",
        "TaskPriority",
        "TaskAssignmentStatus",
        "TaskCanceledReason",
        "TaskCompletedReason",
        "TaskQueueSid",
        "TaskQueueName",
        "TaskChannelSid",
        "TaskChannelUniqueName",
        "WorkflowSid",
        "WorkflowName",
        note="in the field data of task events (the event type's row lists which groups it carries)",
    ),
)
_ASSIGNMENT = documented(
    _ASSIGNMENT_PAGE,
    always(
        _ASSIGNMENT_PAGE,
        "AccountSid",
        "WorkspaceSid",
        "WorkflowSid",
        "TaskQueueSid",
        "WorkerSid",
        "WorkerAttributes",
        "TaskSid",
        "TaskAttributes",
        "TaskAge",
        "TaskPriority",
        "ReservationSid",
    ),
    always(_ASSIGNMENT_PAGE, "Timestamp", note=f"the date/time the task assignment was made; {_TIMESTAMP}"),
)

_WORKSPACE_SID = sid("WS", "support workspace")
_TASK_SID = sid("WT", "whatsapp task")
_QUEUE_SID = sid("WQ", "portuguese queue")
_WORKFLOW_SID = sid("WW", "support workflow")
_TASK_ATTRIBUTES = json.dumps(
    {"channel": "whatsapp", "language": "pt-BR", "customer": {"name": "Zoë Andrade", "tier": "ouro ⭐"}},
    ensure_ascii=False,
)

EVENT = Event(
    kind="taskrouter.event",
    product="taskrouter",
    title="a task was created in a Workspace (event callback, task.created)",
    path="/twilio/taskrouter/events",
    documented=_EVENT,
    params=(
        ("EventType", "task.created"),
        ("AccountSid", ACCOUNT_SID),
        ("WorkspaceSid", _WORKSPACE_SID),
        ("WorkspaceName", "Atendimento São Paulo"),
        ("EventDescription", f"Task {_TASK_SID} created"),
        ("ResourceType", "Task"),
        ("ResourceSid", _TASK_SID),
        ("Timestamp", "1718721103"),
        ("TaskSid", _TASK_SID),
        ("TaskAttributes", _TASK_ATTRIBUTES),
        ("TaskAge", "0"),
        ("TaskPriority", "10"),
        ("TaskAssignmentStatus", "pending"),
        ("TaskQueueSid", _QUEUE_SID),
        ("TaskQueueName", "Português"),
        ("TaskChannelSid", sid("TC", "chat task channel")),
        ("TaskChannelUniqueName", "chat"),
        ("WorkflowSid", _WORKFLOW_SID),
        ("WorkflowName", "Default Fifo Workflow"),
    ),
)

ASSIGNMENT = Event(
    kind="taskrouter.assignment",
    product="taskrouter",
    title="a Workflow offers a task to a worker (assignment callback)",
    path="/twilio/taskrouter/assignment",
    documented=_ASSIGNMENT,
    params=(
        ("Timestamp", "1718721117"),
        ("AccountSid", ACCOUNT_SID),
        ("WorkspaceSid", _WORKSPACE_SID),
        ("WorkflowSid", _WORKFLOW_SID),
        ("TaskQueueSid", _QUEUE_SID),
        ("WorkerSid", sid("WK", "worker ana")),
        ("WorkerAttributes", json.dumps({"languages": ["pt", "en"], "contact_uri": "client:ana"})),
        ("TaskSid", _TASK_SID),
        ("TaskAttributes", _TASK_ATTRIBUTES),
        ("TaskAge", "14"),
        ("TaskPriority", "10"),
        ("ReservationSid", sid("WR", "reservation for ana")),
    ),
)

EVENTS = (EVENT, ASSIGNMENT)
