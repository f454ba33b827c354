"""The feedback service: one import for the workflow's public operations (citizens, staff, reports).

The parts live by concept: `model` (values and errors), `records` (the audited state change they share),
`routing` (queues, rules, reject reasons), `intake` (consent, submit), `citizen` (tracking, replies, ratings,
data rights), `workflow` (staff actions, publication), `reports` (views, overdue, satisfaction).
"""

# ruff: noqa: F401  (re-exports)

from feedback.citizen import (
    awaiting_info,
    erase_my_data,
    lookup,
    my_data,
    my_items,
    published_answers,
    rate,
    reply_info,
)
from feedback.intake import (
    record_consent,
    submit,
)
from feedback.model import (
    DUPLICATE_POOL,
    DUPLICATE_THRESHOLD,
    END_STATES,
    MAX_NOTE_CHARS,
    OPEN_STATES,
    RATABLE_STATES,
    STAFF_ACTIONS,
    TRANSITIONS,
    Citizen,
    CitizenError,
    Conflict,
    ConsentRequired,
    Draft,
    FeedbackError,
    IllegalTransition,
    ItemView,
    MyData,
    NotFound,
    PhoneDigitsRequired,
    Publication,
    Receipt,
    Status,
    UnknownItem,
    upload_ids,
)
from feedback.reports import (
    candidate_duplicates,
    check_overdue,
    find_duplicates,
    is_overdue,
    list_items,
    satisfaction,
    view,
)
from feedback.routing import (
    add_queue,
    add_rule,
    list_queues,
    list_reject_reasons,
    list_rules,
    route,
    update_queue,
)
from feedback.workflow import (
    InvalidAssignee,
    answer,
    ask_info,
    assign,
    claim,
    close,
    mark_duplicate,
    preview_publication,
    publish,
    reject,
    transfer,
)
