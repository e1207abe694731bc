/**
 * Row types of every table. JSON documents are stored as text; times used for scheduling are
 * integer milliseconds (`*_ms`), times shown to users are ISO strings.
 */
export interface Database {
  orgs: { id: string; name: string; created_at: string };
  api_tokens: { id: string; org_id: string; name: string; role: string; token_hash: string; created_at: string };
  signing_keys: {
    kid: string;
    purpose: 'webhook' | 'token';
    private_pem: string;
    public_pem: string;
    status: 'primary' | 'retiring' | 'retired';
    created_at: string;
    retire_at: string | null;
  };
  apps: { id: string; owner_org_id: string; latest_version: number; created_at: string; updated_at: string };
  app_versions: { app_id: string; version: number; manifest: string; created_at: string };
  installations: {
    org_id: string;
    app_id: string;
    version: number;
    option_values: string;
    enabled: number;
    signing_secret: string | null;
    created_at: string;
    updated_at: string;
  };
  entities: {
    id: string;
    org_id: string;
    schema: string;
    data: string;
    created_at: string;
    updated_at: string;
    /** Set while the entity is soft-deleted (in the trash). */
    deleted_at: string | null;
  };
  /** The stored answer of a write sent with an `Idempotency-Key` (migration 0010). */
  idempotency_keys: {
    org_id: string;
    key: string;
    /** SHA-256 of the caller, method, URL and body: a retry must be the same request. */
    fingerprint: string;
    /** `METHOD /path` of the first request, for messages. */
    request: string;
    status: number;
    /** JSON. */
    body: string;
    /** The entity the answer holds (a purge forgets its answers). */
    entity_id: string | null;
    created_ms: number;
    expires_ms: number;
  };
  /** An org's entity schemas (epilot's `putSchema`); `data` is the EntitySchemaItem as JSON. */
  entity_schemas: { org_id: string; slug: string; data: string; created_at: string; updated_at: string };
  entity_events: {
    id: string;
    org_id: string;
    entity_id: string;
    schema: string;
    operation: string;
    entity: string;
    diff: string;
    /** JSON: the values before the update of the attributes in `diff.updated`; null when none. */
    previous: string | null;
    caused_by_execution: string | null;
    occurred_at: string;
    /** The activity of the write (migration 0009); null: none given. */
    activity_id: string | null;
    /** The activity type flow filters see; null: the operation's. */
    activity_type: string | null;
    created_ms: number;
    /** 0 pending, 1 processed, 2 dead (failed `attempts` times). */
    processed: number;
    locked_until_ms: number;
    attempts: number;
    last_error: string | null;
    lease_owner: string | null;
  };
  flows: {
    id: string;
    org_id: string;
    entity_schema: string | null;
    enabled: number;
    data: string;
    created_at: string;
    updated_at: string;
    /** Hot-flow counter: start of the current window, runs in it, runs in the window before. */
    hot_window_ms: number;
    hot_count: number;
    hot_prev_count: number;
  };
  /** Trigger index: which flows an event of (org, schema, operation) can start; operation '*' = any. */
  flow_triggers: { org_id: string; schema: string; operation: string; flow_id: string };
  executions: {
    id: string;
    org_id: string;
    flow_id: string;
    entity_id: string;
    status: string;
    data: string;
    created_at: string;
    updated_at: string;
  };
  deliveries: {
    id: string;
    org_id: string;
    execution_id: string;
    action_id: string;
    app_id: string;
    component_id: string;
    webhook_id: string;
    url: string;
    status: 'pending' | 'succeeded' | 'failed' | 'cancelled';
    request_body: string;
    attempt_count: number;
    next_attempt_ms: number | null;
    locked_until_ms: number;
    last_status_code: number | null;
    last_error: string | null;
    created_at: string;
    updated_at: string;
    /** Snapshot taken when the delivery is created: what every attempt needs. */
    origin: string | null;
    headers: string | null;
    timeout_ms: number | null;
    retry_schedule: string | null;
    /** The installation's `whsec_` secret, sealed. */
    signing_secret: string | null;
    mint_token: number;
    /** Finished (not interrupted) attempts of the current series; a replay starts a new series. */
    tries: number;
    lease_owner: string | null;
  };
  /** One row per item of an entity's `$relation` attributes (its `position` in document order). */
  entity_relations: {
    org_id: string;
    entity_id: string;
    attribute: string;
    related_id: string;
    position: number;
    /** JSON array of the item's `_tags`; null when it has none. */
    tags: string | null;
  };
  /** epilot's activities: `data` is the `BaseActivityItem`. */
  activities: { id: string; org_id: string; type: string; data: string; created_at: string };
  /** The entity feeds an activity appears in. */
  activity_entities: { org_id: string; activity_id: string; entity_id: string; type: string; timestamp: string };
  /** The entity writes made as part of an activity: `data` is epilot's `EntityOperation`. */
  activity_operations: {
    activity_id: string;
    id: string;
    org_id: string;
    entity_id: string;
    schema: string;
    occurred_at: string;
    data: string;
  };
  resume_tokens: {
    token_hash: string;
    org_id: string;
    execution_id: string;
    action_id: string;
    deadline_ms: number | null;
    used: number;
  };
  delivery_attempts: {
    id: string;
    delivery_id: string;
    attempt: number;
    started_at: string;
    duration_ms: number;
    request_headers: string;
    status_code: number | null;
    response_headers: string;
    response_body: string;
    error: string | null;
    outcome: 'in_flight' | 'succeeded' | 'retry' | 'failed' | 'interrupted';
  };
}
