"""Citizen feedback (phản ánh, kiến nghị, PAKN): intake, tracking, the staff workflow and notifications.

A domain of its own: no chat or platform code. The dialog calls `feedback.service` (and
`feedback.validate.clean` per intake field, `feedback.attachments.save` per file); channel adapters
provide the `sender` that `feedback.outbox.deliver` calls.
"""
