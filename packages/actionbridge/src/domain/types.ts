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
  /** Set while the entity is soft-deleted (in the trash); absent otherwise. */
  _deleted_at?: string;
  /** epilot's `EntityOwner`s, as clients sent them. */
  _owners?: EntityOwner[];
  /** epilot's `EntityAcl`, as clients sent it (stored and returned; access follows grants). */
  _acl?: EntityAcl;
  [k: string]: unknown;
}

/** epilot's `EntityOwner`: the user / organization owning an entity. */
export interface EntityOwner {
  org_id: string;
  user_id?: string;
  [k: string]: unknown;
}

/** epilot's `EntityAcl`: who an entity is shared with (`view`, `edit`, `delete`: e.g. `org:456`). */
export interface EntityAcl {
  view?: string[];
  edit?: string[];
  delete?: string[];
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
  /**
   * The values before the update of the attributes in `diff.updated` (`diff.updated` holds the new
   * ones). Flow filters see them as `diff.updated`, as epilot's entity events carry it. Absent on
   * events written before it was recorded.
   */
  previous?: Record<string, unknown>;
  caused_by_execution: string | null;
  occurred_at: string;
  /** The activity the write was part of (epilot's `activity_id` query parameter). */
  activity_id?: string;
  /**
   * The activity type flow filters see as `activity.type`: the activity's, or the relation
   * operation's (`RelationsAdded`, …); absent: the operation's (`EntityCreated`, …).
   */
  activity_type?: string;
}

/** epilot's `RelationItem`: one relation of an entity; `reverse`: another entity points at this one. */
export interface RelationItem {
  entity_id: string;
  attribute: string;
  _tags?: string[];
  _schema?: string;
  org_id?: string;
  reverse?: boolean;
}

/** epilot's `BaseActivityItem`: an activity, shown in the activity feeds of the entities it concerns. */
export interface Activity {
  _id: string;
  timestamp: string;
  type: string;
  title: string;
  message: string;
  payload?: Record<string, unknown>;
  /** Who created it (epilot's `ActivityCallerContext`). */
  caller?: Record<string, unknown>;
}

/** epilot's entity API `EntityOperation`: one entity write made as part of an activity. */
export interface ActivityOperation {
  entity: string;
  org: string;
  activity_id: string;
  activity_type: string;
  operation: EntityOperation;
  params: { id: string; slug: string };
  payload: EntityItem;
  /** As epilot records it: `updated` holds the values before the update. */
  diff: EntityDiff;
}

export interface FlowTrigger {
  id?: string;
  type: string;
  configuration: {
    schema?: string;
    operations?: EntityOperation[];
    /** ActionBridge: fire only when one of these attributes was added, updated or deleted. */
    attributes?: string[];
    /**
     * epilot's EventBridge pattern over `{operation: {operation, payload, diff}, activity: {type}}`
     * (see `executions/conditions.ts`).
     */
    filter_config?: {
      operation?: { operation?: unknown[]; payload?: Record<string, unknown>; diff?: Record<string, unknown> };
      activity?: { type?: unknown[] };
    };
    [k: string]: unknown;
  };
}

/** epilot's `TriggerCondition`: all of a flow's must hold for an event to start it. */
export interface TriggerCondition {
  /** A dotted path in the entity. */
  source: string;
  comparison: 'equals' | 'any_of' | 'not_empty' | 'is_empty';
  value?: string | number | string[] | number[];
}

/** epilot's `ConditionStatement` (the parts ActionBridge evaluates). */
export interface FlowConditionStatement {
  id?: string;
  source?: {
    id?: string;
    origin?: 'trigger' | 'action';
    originType?: 'entity';
    schema?: string;
    attribute?: string;
    attributeType?: string;
    attributeRepeatable?: boolean;
    repeatableItemOp?: boolean;
    attributeOperation?: 'all';
  };
  operation?: string;
  values?: string[];
}

/** epilot's `ActionCondition`: the actions naming it in `condition_id` run only when all its statements hold. */
export interface FlowCondition {
  id: string;
  statements?: FlowConditionStatement[];
  /** On an execution: the result when it was last evaluated. */
  evaluationResult?: boolean;
}

/** epilot's `ActionSchedule`: the actions naming it in `schedule_id` are sent at the time it gives. */
export interface FlowSchedule {
  id: string;
  numberOfUnits?: number;
  timePeriod?: 'minutes' | 'hours' | 'days' | 'weeks' | 'months';
  timeRelation?: 'after' | 'before';
  source: { id: string; origin: 'trigger' | 'action' | 'automation'; schema?: string; attribute?: string };
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
  /** Runs only when this flow condition holds; skipped otherwise. */
  condition_id?: string;
  /** Sent at the time this flow schedule gives. */
  schedule_id?: string;
}

export interface Flow {
  id: string;
  org_id: string;
  flow_name: string;
  enabled: boolean;
  entity_schema?: string;
  triggers: FlowTrigger[];
  trigger_conditions?: TriggerCondition[];
  conditions?: FlowCondition[];
  schedules?: FlowSchedule[];
  actions: FlowAction[];
  version: number;
  created_at: string;
  updated_at: string;
  disable_details?: { disabled_at: string; disabled_by: 'system' | 'user' };
  [k: string]: unknown;
}

export interface ErrorOutput {
  error_code:
    | 'CUSTOM_ACTION_ERROR'
    | 'TIMEOUT_ERROR'
    | 'BAD_CONFIG'
    | 'INTERNAL_ERROR'
    | 'ENTITY_NOT_FOUND'
    | 'INVALID_SCHEDULE_CONFIG';
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
  /** ActionBridge: when a scheduled action is sent (it shows `scheduled` until then). */
  scheduled_at?: string;
  /** Why the action was skipped or cancelled (epilot's `reason`): a condition that did not hold, a cancelled schedule. */
  reason?: { message: string; payload?: Record<string, unknown> };
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
  /** The activity of the write that started it (epilot's `AutomationExecution.activity_id`). */
  activity_id?: string;
  /** The flow's conditions when the execution started, with their evaluation results. */
  conditions?: FlowCondition[];
  /** The flow's schedules when the execution started. */
  schedules?: FlowSchedule[];
  /** ActionBridge: what triggered the execution, as sent to apps. */
  trigger: {
    type: 'entity_operation' | 'manual';
    operation?: EntityOperation;
    entity_id: string;
    diff?: EntityDiff;
    occurred_at: string;
    event_id?: string;
    /** The activity the triggering write was part of. */
    activity_id?: string;
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
