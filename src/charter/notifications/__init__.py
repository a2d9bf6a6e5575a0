"""Notifications by email and chat: who should act on a governance change hears of it, never blocking the change.

Every change that matters already writes an event to the webhook outbox in its own transaction. A background step
fans each new event out to people (email: users holding a routed role in a scope covering the system) and chat
channels (Slack/Mattermost, Microsoft Teams), then sends due messages with retries and backoff; failures stay
visible on the dashboard.
"""
