-- Up Migration
-- Admin API keys: the secret is never stored, only its SHA-256 (a key carries 256 random bits, so a plain hash
-- is as strong as a slow one and costs microseconds per request). A key is found by its prefix, which is not secret.
CREATE TABLE api_keys (
  key_id        bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  prefix        text NOT NULL UNIQUE CHECK (prefix ~ '^[a-z2-7]{10}$'),
  secret_sha256 bytea NOT NULL CHECK (octet_length(secret_sha256) = 32),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  role          text NOT NULL CHECK (role IN ('admin', 'operator', 'billing', 'clearing', 'auditor')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- Set by a rotation (the end of the grace period) or at creation; the key stops working then.
  expires_at    timestamptz,
  revoked_at    timestamptz,
  last_used_at  timestamptz,
  replaced_by   bigint REFERENCES api_keys (key_id)
);

-- Every change made through the admin API or the CLI: who (the key, or the CLI user), what, before and after.
-- Card numbers in it are masked; keys and PINs never enter it.
CREATE TABLE audit_log (
  audit_id  bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  at        timestamptz NOT NULL DEFAULT now(),
  key_id    bigint REFERENCES api_keys (key_id),
  actor     text NOT NULL,
  action    text NOT NULL,
  subject   text,
  before    jsonb,
  after     jsonb
);
CREATE INDEX audit_log_at ON audit_log (at DESC, audit_id DESC);
CREATE INDEX audit_log_action ON audit_log (action, at DESC);

-- Down Migration
DROP TABLE audit_log;
DROP TABLE api_keys;
