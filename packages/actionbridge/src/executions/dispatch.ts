import { randomBytes } from 'node:crypto';
import { hashToken } from '../auth/principal.js';
import { RESERVED_HEADERS } from '../delivery/headers.js';
import { buildPayload, findComponent } from '../delivery/payload.js';
import type { Delivery, ErrorOutput, Execution, ExecutionAction, Installation } from '../domain/types.js';
import type { SecretBox } from '../secrets/box.js';
import type { AppVersion, ResumeTokenRow } from '../store/store.js';
import { newId } from '../util/ids.js';
import { type Effect, finish } from './state.js';

/** Installations and app versions, read once per batch however many actions need them. */
export class Catalog {
  private readonly installations = new Map<string, Promise<Installation | undefined>>();
  private readonly versions = new Map<string, Promise<AppVersion | undefined>>();

  constructor(
    private readonly read: {
      getInstallation(orgId: string, appId: string): Promise<Installation | undefined>;
      getAppVersion(appId: string, version: number): Promise<AppVersion | undefined>;
    },
  ) {}

  installation(orgId: string, appId: string): Promise<Installation | undefined> {
    const key = `${orgId}\u0000${appId}`;
    let p = this.installations.get(key);
    if (!p) {
      p = this.read.getInstallation(orgId, appId);
      this.installations.set(key, p);
    }
    return p;
  }

  version(appId: string, version: number): Promise<AppVersion | undefined> {
    const key = `${appId}\u0000${version}`;
    let p = this.versions.get(key);
    if (!p) {
      p = this.read.getAppVersion(appId, version);
      this.versions.set(key, p);
    }
    return p;
  }
}

/** What carrying out effects produced: rows to write in the same transaction, and counts. */
export class Changes {
  readonly deliveries: Delivery[] = [];
  /** The new deliveries' bodies in the clear, by delivery id: a first attempt sent at once needs no unsealing. */
  readonly bodies = new Map<string, string>();
  readonly tokens: ResumeTokenRow[] = [];
  readonly deadlines: Array<{ org_id: string; execution_id: string; action_id: string }> = [];
  readonly finished: Array<Execution['execution_status']> = [];

  /** Adds another unit's changes to these (a batch written at once). */
  absorb(other: Changes): void {
    this.deliveries.push(...other.deliveries);
    for (const [id, body] of other.bodies) this.bodies.set(id, body);
    this.tokens.push(...other.tokens);
    this.deadlines.push(...other.deadlines);
  }
}

export interface DispatchEnv {
  secrets: SecretBox;
  /** The platform's public URL, for `callback_url`. */
  publicUrl: () => string;
  now: () => { ms: number; iso: string };
}

/**
 * Carries out a transition's effects: a started custom action becomes a delivery (everything its
 * attempts need is snapshot into it), or — when it cannot be sent (app not installed, component
 * gone, installation disabled, an option that cannot be opened) — fails with `BAD_CONFIG` at once,
 * which moves the execution on in turn.
 */
export async function carryOut(
  exec: Execution,
  effects: Effect[],
  catalog: Catalog,
  changes: Changes,
  env: DispatchEnv,
): Promise<void> {
  const queue = [...effects];
  for (let e = queue.shift(); e; e = queue.shift()) {
    if (e.kind === 'finished') changes.finished.push(e.status);
    else if (e.kind === 'await_callback')
      changes.deadlines.push({ org_id: exec.org_id, execution_id: exec.id, action_id: e.action_id });
    else {
      const made = await makeDelivery(exec, e.index, catalog, env);
      if ('error' in made) {
        queue.push(...finish(exec, e.index, { status: 'failed', error: made.error }, env.now().iso));
        continue;
      }
      changes.deliveries.push(made.delivery);
      changes.bodies.set(made.delivery.id, made.body);
      if (made.token) changes.tokens.push(made.token);
      (exec.actions[e.index] as ExecutionAction).delivery_id = made.delivery.id;
    }
  }
}

async function makeDelivery(
  exec: Execution,
  index: number,
  catalog: Catalog,
  env: DispatchEnv,
): Promise<{ delivery: Delivery; body: string; token?: ResumeTokenRow } | { error: ErrorOutput }> {
  const action = exec.actions[index] as ExecutionAction;
  const bad = (reason: string) => ({ error: { error_code: 'BAD_CONFIG' as const, error_reason: reason } });
  const { app_id, component_id } = action.config;
  const inst = await catalog.installation(exec.org_id, app_id);
  if (!inst) return bad(`app ${app_id} is not installed in this org`);
  const version = await catalog.version(app_id, inst.version);
  const component = version && findComponent(version.manifest, component_id);
  const settings = component?.configuration.external_integration_settings;
  if (!component || !settings?.url) {
    return bad(`app ${app_id} v${inst.version} has no custom action component ${component_id}`);
  }
  if (!inst.enabled) return bad(`installation of app ${app_id} is disabled: required options are not all set`);
  // The component's `wait_for_callback` is the default for its actions.
  if (action.config.wait_for_callback === undefined && component.configuration.wait_for_callback === true) {
    action.config.wait_for_callback = true;
  }

  const { ms, iso } = env.now();
  let token: ResumeTokenRow | undefined;
  let callback: { resume_token: string; callback_url: string } | undefined;
  if (action.config.wait_for_callback) {
    const secret = `rt_${randomBytes(32).toString('base64url')}`;
    token = {
      token_hash: hashToken(secret),
      org_id: exec.org_id,
      execution_id: exec.id,
      action_id: action.id,
      deadline_ms: null,
      used: 0,
    };
    callback = { resume_token: secret, callback_url: `${env.publicUrl()}/v1/automation/public/executions:resume` };
  }
  let body: string;
  let signingSecret: string | null;
  try {
    body = buildPayload({
      execution: exec,
      action,
      component,
      installation: inst,
      box: env.secrets,
      ...(callback ? { callback } : {}),
    });
    signingSecret = inst.signing_secret ? env.secrets.seal(env.secrets.open(inst.signing_secret)) : null;
  } catch (err) {
    return bad(`the installation's options of app ${app_id} cannot be read: ${(err as Error).message}`);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(settings.headers ?? {})) {
    if (!RESERVED_HEADERS.has(k.toLowerCase()) && typeof v === 'string') headers[k] = v;
  }
  const delivery: Delivery = {
    id: newId('dlv', 12),
    org_id: exec.org_id,
    execution_id: exec.id,
    action_id: action.id,
    app_id,
    component_id,
    webhook_id: newId('msg'),
    status: 'pending',
    // Sealed at rest: the body carries the installation's secret options.
    request_body: env.secrets.seal(body),
    attempt_count: 0,
    tries: 0,
    // A scheduled action's delivery waits until its time: the delivery lane sends it when due.
    next_attempt_ms: action.scheduled_at ? Math.max(ms, Date.parse(action.scheduled_at)) : ms,
    last_status_code: null,
    last_error: null,
    created_at: iso,
    updated_at: iso,
    url: settings.url,
    origin: new URL(settings.url).origin,
    headers,
    timeout_ms: settings.timeout_seconds ? settings.timeout_seconds * 1000 : null,
    retry_schedule: settings.retry_schedule ?? null,
    signing_secret: signingSecret,
    mint_token: (version.manifest.permissions?.length ?? 0) > 0,
  };
  return token ? { delivery, body, token } : { delivery, body };
}
