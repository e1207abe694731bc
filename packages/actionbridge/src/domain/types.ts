/** Domain types shared by the API, the engine and the store. Wire shapes follow epilot's OpenAPI. */

// Wire shapes apps receive are defined once, in the SDK; the platform builds them from these.
export type { EntityDiff, EntityOperation, ExecutionStatus } from '@actionbridge/app-sdk';

import type { EntityDiff, EntityOperation, ExecutionStatus } from '@actionbridge/app-sdk';

export type GrantAction = 'entity:view' | 'entity:create' | 'entity:edit' | 'entity:delete' | 'entity:*';

export interface Grant {
  action: GrantAction;
  /** `<schema>`, `<schema>:*`, `<schema>:<id>`, or omitted / `*` for all. */
  resource?: string;
  effect?: 'allow' | 'deny';
}

export interface ManifestOption {
  key: string;
  type: 'text' | 'number' | 'boolean' | 'secret' | 'object';
  required?: boolean;
  label?: string;
  description?: string;
}

export interface ManifestComponent {
  id: string;
  component_type: string;
  name?: string;
  description?: string;
  options?: ManifestOption[];
  configuration: {
    type?: string;
    external_integration_settings?: {
      url: string;
      headers?: Record<string, string>;
      /** ActionBridge: retry delays in seconds for this component (its length is the number of attempts). */
      retry_schedule?: number[];
      /** ActionBridge: per-attempt timeout in seconds for this component. */
      timeout_seconds?: number;
    };
    [k: string]: unknown;
  };
}

export interface AppManifest {
  name: string;
  description?: string;
  permissions?: Grant[];
  components: ManifestComponent[];
  [k: string]: unknown;
}

export interface OptionValues {
  component_id: string;
  options: { key: string; value: unknown }[];
}

export interface Installation {
  org_id: string;
  app_id: string;
  version: number;
  option_values: OptionValues[];
  enabled: boolean;
  /** A `whsec_` secret: deliveries then also carry a `v1` (HMAC-SHA256) signature. Never returned by reads. */
  signing_secret: string | null;
  created_at: string;
  updated_at: string;
}

/** An entity as the API returns it: system fields plus user attributes. */
export interface EntityItem {
  _id: string;
  _org: string;
  _schema: string;
  _title: string;
  _tags?: string[];
  _created_at: string;
  _updated_at: string;
  [k: string]: unknown;
}

export interface EntityEvent {
  id: string;
  org_id: string;
  entity_id: string;
  schema: string;
  operation: EntityOperation;
  entity: EntityItem;
  diff: EntityDiff;
  caused_by_execution: string | null;
  occurred_at: string;
}

export interface FlowTrigger {
  id?: string;
  type: string;
  configuration: {
    schema?: string;
    operations?: EntityOperation[];
    /** ActionBridge: fire only when one of these attributes was added, updated or deleted. */
    attributes?: string[];
    [k: string]: unknown;
  };
}

export interface FlowAction {
  id: string;
  flow_action_id?: string;
  name?: string;
  type: 'custom-action';
  config: {
    name?: string;
    description?: string;
    app_id: string;
    component_id: string;
    wait_for_callback?: boolean;
    [k: string]: unknown;
  };
  allow_failure?: boolean;
}

export interface Flow {
  id: string;
  org_id: string;
  flow_name: string;
  enabled: boolean;
  entity_schema?: string;
  triggers: FlowTrigger[];
  actions: FlowAction[];
  version: number;
  created_at: string;
  updated_at: string;
  disable_details?: { disabled_at: string; disabled_by: 'system' | 'user' };
  [k: string]: unknown;
}

export interface ErrorOutput {
  error_code: 'CUSTOM_ACTION_ERROR' | 'TIMEOUT_ERROR' | 'BAD_CONFIG' | 'INTERNAL_ERROR' | 'ENTITY_NOT_FOUND';
  error_reason: string;
}

export interface ExecutionAction extends FlowAction {
  execution_status: ExecutionStatus;
  started_at?: string;
  updated_at?: string;
  outputs?: Record<string, unknown>;
  error_output?: ErrorOutput;
  /** ActionBridge: the delivery that carries this action to the app. */
  delivery_id?: string;
}

export type TriggerEvent =
  | {
      type: 'entity_operation';
      entity_id: string;
      org_id: string;
      activity_id: string;
      operation_type: EntityOperation;
    }
  | { type: 'manual'; org_id: string; entity_id: string };

export interface Execution {
  id: string;
  org_id: string;
  flow_id: string;
  flow_name: string;
  entity_id: string;
  execution_status: ExecutionStatus;
  created_at: string;
  updated_at: string;
  current_action_id?: string;
  actions: ExecutionAction[];
  trigger_event: TriggerEvent;
  entity_snapshot: EntityItem;
  version: number;
  /** ActionBridge: what triggered the execution, as sent to apps. */
  trigger: {
    type: 'entity_operation' | 'manual';
    operation?: EntityOperation;
    entity_id: string;
    diff?: EntityDiff;
    occurred_at: string;
    event_id?: string;
  };
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled';

/** The request series that carries one run of one custom action to its app. */
export interface Delivery {
  id: string;
  org_id: string;
  execution_id: string;
  action_id: string;
  app_id: string;
  component_id: string;
  /** The same on every attempt and every replay: receivers deduplicate on it. */
  webhook_id: string;
  status: DeliveryStatus;
  /** The body, sealed at rest (it carries the installation's secret options). */
  request_body: string;
  /** Attempts made so far (interrupted ones included): the next attempt's number is this + 1. */
  attempt_count: number;
  /** Finished attempts of the current series (a replay starts a new one): drives the retry schedule. */
  tries: number;
  next_attempt_ms: number | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  // What every attempt needs, snapshot when the delivery is created: an app upgraded meanwhile
  // never mixes its old URL with new headers, timeout or secret.
  url: string;
  /** `scheme://host:port`: the unit of per-origin concurrency. */
  origin: string;
  /** The component's extra headers. */
  headers: Record<string, string>;
  /** Per-attempt timeout; `null` = the platform's. */
  timeout_ms: number | null;
  /** Retry delays in seconds; `null` = the platform's. */
  retry_schedule: number[] | null;
  /** The installation's `whsec_` secret, sealed; `null` = no `v1` signature. */
  signing_secret: string | null;
  /** Whether attempts carry an `x-epilot-token` (the app declares permissions). */
  mint_token: boolean;
}

export type AttemptOutcome = 'in_flight' | 'succeeded' | 'retry' | 'failed' | 'interrupted';

export interface DeliveryAttempt {
  id: string;
  delivery_id: string;
  attempt: number;
  started_at: string;
  duration_ms: number;
  /** The headers sent, with the access token masked. */
  request_headers: Record<string, string>;
  status_code: number | null;
  response_headers: Record<string, string>;
  response_body: string;
  error: string | null;
  /** `in_flight` until the answer is recorded; `interrupted` when a crash or shutdown cut it off. */
  outcome: AttemptOutcome;
}

/** An entity event as the event lane and `GET /v1/events` see it. */
export type EventStatus = 'pending' | 'processed' | 'dead';
