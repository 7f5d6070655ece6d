-- Notifications: the webhook outbox. A row is written in the same statement (so the same transaction) as
-- the job's final state (completed, failed, cancelled, expired) when the job's request asks for that event
-- ("notify"); any instance's webhook service delivers it (notify/webhook_service), claiming rows with
-- FOR UPDATE SKIP LOCKED under a claim of its own, and records each try. Rows outlive their job: a job
-- deleted right after it ended is still announced.
CREATE TABLE IF NOT EXISTS export_webhooks (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(), -- the webhook-id (msg_<id>)
    job_id          uuid        NOT NULL,
    event           text        NOT NULL CHECK (event IN ('completed', 'failed', 'cancelled', 'expired')),
    url             text        NOT NULL,
    job             jsonb       NOT NULL, -- the job's record (export_jobs) as the event left it
    payload         text,                 -- the body, fixed at the first try so that every try sends it
    created_at      timestamptz NOT NULL DEFAULT now(), -- the event's time
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,     -- tries made (a try cut short by a crash is not one)
    last_error      text,
    claimed_by      text,                 -- the instance trying it now, until claimed_until
    claimed_until   timestamptz,
    claim_token     bigint      NOT NULL DEFAULT 0,     -- bumped by every claim: a stale try records nothing
    delivered_at    timestamptz,
    stopped_at      timestamptz,          -- given up: the receiver answered 410, or --webhook-retry-for ran out
    UNIQUE (job_id, event)
);
-- The service's claim: rows due, oldest due first.
CREATE INDEX IF NOT EXISTS export_webhooks_due ON export_webhooks (next_attempt_at)
    WHERE delivered_at IS NULL AND stopped_at IS NULL;
-- Status: a job's latest notification.
CREATE INDEX IF NOT EXISTS export_webhooks_job ON export_webhooks (job_id, created_at);
-- The service's clean-up: ended rows by the time they ended.
CREATE INDEX IF NOT EXISTS export_webhooks_ended ON export_webhooks (coalesce(delivered_at, stopped_at))
    WHERE delivered_at IS NOT NULL OR stopped_at IS NOT NULL;
-- Every instance's webhook service listens (LISTEN pgexport_webhooks): a new row wakes them at once. One
-- notification per transaction (PostgreSQL folds equal ones), none for a statement that adds no row.
CREATE OR REPLACE FUNCTION export_webhooks_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pgexport_webhooks', '');
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER export_webhooks_notify AFTER INSERT ON export_webhooks
    FOR EACH ROW EXECUTE FUNCTION export_webhooks_notify();
