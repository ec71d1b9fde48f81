import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditEventSchema } from '../../src/audit-event';
import { DEPLOYED_NODE_OPTIONS } from '../../src/bundle-loader';
import { CONFIG_VARIABLES } from '../../src/config';
import { OUTCOMES } from '../../src/outcomes';
import {
  type Body,
  loadTerraform,
  nested,
  nestedAll,
  objectAttribute,
  REPOSITORY_ROOT,
  ref,
  resource,
  resourcesOfType,
  stringAttribute,
  stringListAttribute,
  TERRAFORM_DIRECTORY,
  type TerraformConfig,
} from './terraform-config';

let config: TerraformConfig;

beforeAll(async () => {
  config = await loadTerraform();
});

const deployedVariables = Object.entries(CONFIG_VARIABLES)
  .filter(([, variable]) => variable.deployed)
  .map(([name]) => name)
  .sort();

function functionResource(): Body {
  return resource(config, 'google_cloudfunctions2_function', 'function').body;
}

describe('the function resource', () => {
  it('sets exactly the environment variables a deployment sets (CONFIG_VARIABLES deployed: true) and NODE_OPTIONS', () => {
    const environment = objectAttribute(
      nested(functionResource(), 'service_config'),
      'environment_variables',
    );
    expect(Object.keys(environment).sort()).toEqual([...deployedVariables, 'NODE_OPTIONS'].sort());
    expect(Object.keys(environment)).not.toContain('CLOUD_DEPLOY_EMULATOR_HOST');
    expect(Object.keys(environment)).not.toContain('PUBSUB_EMULATOR_HOST');
  });

  it('runs Node.js with the flags the build made the code cache under', () => {
    const environment = objectAttribute(
      nested(functionResource(), 'service_config'),
      'environment_variables',
    );
    expect(environment.NODE_OPTIONS).toBe(DEPLOYED_NODE_OPTIONS);
  });

  it('always gives the required variables a value', () => {
    const environment = objectAttribute(
      nested(functionResource(), 'service_config'),
      'environment_variables',
    );
    const required = Object.entries(CONFIG_VARIABLES)
      .filter(([, variable]) => variable.required)
      .map(([name]) => name);
    for (const name of required) {
      const value = environment[name];
      expect(typeof value === 'string' && value.trim() !== '', name).toBe(true);
      // A conditional could leave a required variable empty at deploy time.
      expect(String(value), name).not.toMatch(/\?|\bnull\b/);
    }
    expect(environment.AUDIT_TOPIC).toBe(ref('google_pubsub_topic.audit.id'));
  });

  it('runs the cancelAutomationRuns entry point', () => {
    expect(nested(functionResource(), 'build_config').entry_point).toBe('cancelAutomationRuns');
  });

  it('matches the name src/index.ts registers, when that file exists', () => {
    const indexFile = join(REPOSITORY_ROOT, 'src', 'index.ts');
    if (!existsSync(indexFile)) return;
    const text = readFileSync(indexFile, 'utf8');
    const literal = /cloudEvent\(\s*(['"])cancelAutomationRuns\1/.test(text);
    const viaConstant = /cloudEvent\(\s*([A-Za-z_$][\w$]*)\s*,/.exec(text)?.[1];
    const constantValue =
      viaConstant === undefined
        ? undefined
        : new RegExp(`const\\s+${viaConstant}\\s*=\\s*(['"])([^'"]+)\\1`).exec(text)?.[2];
    expect(literal || constantValue === 'cancelAutomationRuns').toBe(true);
  });

  it('uses a supported Node.js runtime that package.json engines allows', () => {
    const packageJson = JSON.parse(readFileSync(join(REPOSITORY_ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    const minimum = Number(/>=\s*(\d+)/.exec(packageJson.engines.node)?.[1]);
    const runtime = String(nested(functionResource(), 'build_config').runtime);
    // nodejs20 was decommissioned on 2026-10-30; nodejs22 is supported until 2027-10-31.
    expect(runtime).toBe('nodejs22');
    expect(Number(runtime.replace('nodejs', ''))).toBeGreaterThanOrEqual(minimum);
  });

  it('builds from an object whose name carries the zip hash', () => {
    const object = resource(config, 'google_storage_bucket_object', 'source').body;
    expect(stringAttribute(object, 'name')).toContain(
      ref('data.archive_file.source.output_sha256'),
    );
    const storage = nested(
      nested(nested(functionResource(), 'build_config'), 'source'),
      'storage_source',
    );
    expect(storage.object).toBe(ref('google_storage_bucket_object.source.name'));
  });

  it('is internal-only, sized and bounded, and runs as its own service account', () => {
    const service = nested(functionResource(), 'service_config');
    expect(service.ingress_settings).toBe('ALLOW_INTERNAL_ONLY');
    expect(service.service_account_email).toBe(ref('google_service_account.runtime.email'));
    for (const key of [
      'timeout_seconds',
      'available_memory',
      'max_instance_count',
      'max_instance_request_concurrency',
    ]) {
      expect(service[key], key).toBeDefined();
    }
    const memory = config.variables.find((variable) => variable.name === 'function_memory');
    expect(memory?.body.default).toBe('256M');
  });

  it('has no event_trigger: delivery is our own push subscription', () => {
    expect(functionResource().event_trigger).toBeUndefined();
  });
});

describe('delivery', () => {
  function pushSubscription(): Body {
    return resource(config, 'google_pubsub_subscription', 'requests_push').body;
  }

  it('pushes to the function URI with an OIDC token of the invoker service account', () => {
    const push = nested(pushSubscription(), 'push_config');
    expect(push.push_endpoint).toBe(
      ref('google_cloudfunctions2_function.function.service_config[0].uri'),
    );
    expect(nested(push, 'oidc_token').service_account_email).toBe(
      ref('google_service_account.invoker.email'),
    );
    expect(pushSubscription().topic).toBe(ref('google_pubsub_topic.requests.id'));
  });

  it('retries with exponential backoff and dead-letters to the topic it creates', () => {
    const retry = nested(pushSubscription(), 'retry_policy');
    expect(retry.minimum_backoff).toBeDefined();
    expect(retry.maximum_backoff).toBeDefined();
    const deadLetter = nested(pushSubscription(), 'dead_letter_policy');
    expect(deadLetter.dead_letter_topic).toBe(ref('google_pubsub_topic.dead_letter.id'));
    expect(deadLetter.max_delivery_attempts).toBeDefined();
    expect(() => resource(config, 'google_pubsub_topic', 'dead_letter')).not.toThrow();
    const keeper = resource(config, 'google_pubsub_subscription', 'dead_letter').body;
    expect(keeper.topic).toBe(ref('google_pubsub_topic.dead_letter.id'));
  });

  it('gives the acknowledgement deadline more time than the function timeout', () => {
    expect(pushSubscription().ack_deadline_seconds).toBe(ref('local.ack_deadline_seconds'));
    expect(String(config.locals.ack_deadline_seconds)).toMatch(
      /min\(600, var\.function_timeout_seconds \+ [1-9]\d*\)/,
    );
    const timeout = config.variables.find(
      (variable) => variable.name === 'function_timeout_seconds',
    );
    expect(JSON.stringify(timeout?.body.validation)).toContain(
      'var.function_timeout_seconds <= 540',
    );
  });

  it('lets the Pub/Sub service agent dead-letter: publisher on the dead-letter topic, subscriber on the source', () => {
    const publisher = resource(
      config,
      'google_pubsub_topic_iam_member',
      'pubsub_agent_publishes_dead_letters',
    ).body;
    expect(publisher).toMatchObject({
      topic: ref('google_pubsub_topic.dead_letter.name'),
      role: 'roles/pubsub.publisher',
      member: ref('local.pubsub_service_agent'),
    });
    const subscriber = resource(
      config,
      'google_pubsub_subscription_iam_member',
      'pubsub_agent_forwards_requests',
    ).body;
    expect(subscriber).toMatchObject({
      subscription: ref('google_pubsub_subscription.requests_push.name'),
      role: 'roles/pubsub.subscriber',
      member: ref('local.pubsub_service_agent'),
    });
    expect(String(config.locals.pubsub_service_agent)).toMatch(
      /^serviceAccount:service-\$\{local\.project_number\}@gcp-sa-pubsub\.iam\.gserviceaccount\.com$/,
    );
  });

  it('lets the invoker call only the function service', () => {
    const invoker = resource(
      config,
      'google_cloud_run_v2_service_iam_member',
      'invoker_runs_function',
    ).body;
    expect(invoker).toMatchObject({
      name: ref('google_cloudfunctions2_function.function.name'),
      role: 'roles/run.invoker',
      member: ref('local.invoker_member'),
    });
  });
});

describe('permissions', () => {
  it('defines the custom role with exactly get, list and cancel of automation runs', () => {
    const role = resource(
      config,
      'google_project_iam_custom_role',
      'automation_run_canceller',
    ).body;
    expect(stringListAttribute(role, 'permissions').sort()).toEqual([
      'clouddeploy.automationRuns.cancel',
      'clouddeploy.automationRuns.get',
      'clouddeploy.automationRuns.list',
    ]);
    expect(role.for_each).toBe(ref('toset(var.managed_projects)'));
  });

  it('grants the runtime service account nothing project-wide but that custom role', () => {
    const projectGrants = config.resources.filter((candidate) =>
      candidate.type.startsWith('google_project_iam_'),
    );
    for (const grant of projectGrants) {
      if (grant.type === 'google_project_iam_custom_role') continue;
      expect(grant.type, `${grant.type}.${grant.name}`).toBe('google_project_iam_member');
      expect(grant.body.role, `${grant.type}.${grant.name}`).toBe(
        ref('google_project_iam_custom_role.automation_run_canceller[each.value].id'),
      );
    }
  });

  it('never grants a basic role, nor a Pub/Sub role project-wide', () => {
    for (const file of config.files) {
      expect(file.text, file.name).not.toMatch(/roles\/(editor|owner|viewer)\b/);
    }
    const projectLevel = config.resources.filter((candidate) =>
      /^google_project_iam_(member|binding|policy)$/.test(candidate.type),
    );
    for (const grant of projectLevel) {
      expect(JSON.stringify(grant.body), `${grant.type}.${grant.name}`).not.toMatch(
        /roles\/pubsub\./,
      );
    }
    const organizationOrFolder = config.resources.filter((candidate) =>
      /^google_(organization|folder)_iam_(member|binding|policy)$/.test(candidate.type),
    );
    expect(organizationOrFolder).toEqual([]);
  });

  it('lets the runtime service account publish to the audit topic only', () => {
    const publishers = resourcesOfType(config, 'google_pubsub_topic_iam_member').filter(
      (grant) => grant.body.member === ref('local.runtime_member'),
    );
    expect(publishers.map((grant) => grant.body.topic)).toEqual([
      ref('google_pubsub_topic.audit.name'),
    ]);
  });
});

describe('Cloud Monitoring', () => {
  it('has a pubsub notification channel on the requests topic, which the notification agent may publish to', () => {
    const channel = resource(config, 'google_monitoring_notification_channel', 'requests').body;
    expect(channel.type).toBe('pubsub');
    expect(objectAttribute(channel, 'labels').topic).toBe(ref('google_pubsub_topic.requests.id'));
    const grant = resource(
      config,
      'google_pubsub_topic_iam_member',
      'monitoring_agent_publishes_requests',
    ).body;
    expect(grant).toMatchObject({
      topic: ref('google_pubsub_topic.requests.name'),
      role: 'roles/pubsub.publisher',
    });
    expect(String(config.locals.monitoring_service_agent)).toMatch(
      /@gcp-sa-monitoring-notification\.iam\.gserviceaccount\.com$/,
    );
  });

  it('labels example alert policies with every clouddeploy_* label of the contract', () => {
    const policy = resource(config, 'google_monitoring_alert_policy', 'cancel_on_incident').body;
    const labels = String(policy.user_labels);
    for (const label of [
      'clouddeploy_pipeline',
      'clouddeploy_location',
      'clouddeploy_project',
      'clouddeploy_target',
      'clouddeploy_automation',
      'clouddeploy_rule',
    ]) {
      expect(labels).toContain(label);
    }
    expect(policy.notification_channels).toEqual([
      ref('google_monitoring_notification_channel.requests.id'),
    ]);
  });

  it('counts decisions by outcome and source from the decision log lines', () => {
    for (const name of ['decisions', 'failures']) {
      const metric = resource(config, 'google_logging_metric', name).body;
      expect(objectAttribute(metric, 'label_extractors')).toEqual({
        outcome: 'EXTRACT(jsonPayload.outcome)',
        source: 'EXTRACT(jsonPayload.source)',
      });
      const labelKeys = nestedAll(nested(metric, 'metric_descriptor'), 'labels').map(
        (label) => label.key,
      );
      expect(labelKeys.sort()).toEqual(['outcome', 'source']);
    }
  });

  it('accepts exactly the contract outcomes in failure_outcomes', () => {
    const variable = config.variables.find((candidate) => candidate.name === 'failure_outcomes');
    const condition = String(nestedAll(variable?.body ?? {}, 'validation')[0]?.condition);
    const listed = [...condition.matchAll(/"([A-Z_]+)"/g)].map((match) => match[1]);
    expect(listed.sort()).toEqual([...OUTCOMES].sort());
  });
});

describe('audit history in BigQuery', () => {
  interface Column {
    name: string;
    type: string;
    mode: string;
    fields?: Column[];
  }
  const columns = JSON.parse(
    readFileSync(join(TERRAFORM_DIRECTORY, 'audit-event.bigquery.json'), 'utf8'),
  ) as Column[];
  const metadataColumns = ['subscription_name', 'message_id', 'publish_time', 'attributes'];

  function zodObjectShape(schema: unknown): Record<string, unknown> {
    let current = schema as { shape?: Record<string, unknown>; unwrap?: () => unknown };
    while (current.shape === undefined && typeof current.unwrap === 'function') {
      current = current.unwrap() as typeof current;
    }
    if (current.shape === undefined) throw new Error('not an object schema');
    return current.shape;
  }

  function accepts(schema: unknown, value: unknown): boolean {
    return (schema as { safeParse(input: unknown): { success: boolean } }).safeParse(value).success;
  }

  function compare(shape: Record<string, unknown>, table: Column[], path: string): void {
    expect(table.map((column) => column.name).sort(), path).toEqual(Object.keys(shape).sort());
    for (const column of table) {
      const field = shape[column.name];
      const nullable = accepts(field, null) || accepts(field, undefined);
      // Never stricter than the event; which columns are REQUIRED is pinned by the next test.
      if (nullable) expect(column.mode, `${path}${column.name}`).toBe('NULLABLE');
      const nestedShape = (() => {
        try {
          return zodObjectShape(field);
        } catch {
          return undefined;
        }
      })();
      if (nestedShape !== undefined) {
        expect(column.type, `${path}${column.name}`).toBe('RECORD');
        compare(nestedShape, column.fields ?? [], `${path}${column.name}.`);
      } else {
        expect(column.type, `${path}${column.name}`).not.toBe('RECORD');
      }
    }
  }

  it('has a column for every audit event field, nullable wherever the event may leave it out', () => {
    const eventColumns = columns.filter((column) => !metadataColumns.includes(column.name));
    compare(zodObjectShape(auditEventSchema), eventColumns, '');
  });

  it('keeps eventId, time, outcome, dryRun and request.source required', () => {
    const required = columns
      .filter((column) => column.mode === 'REQUIRED')
      .map((column) => column.name);
    expect(required.sort()).toEqual(['dryRun', 'eventId', 'outcome', 'time']);
    const request = columns.find((column) => column.name === 'request');
    expect(
      request?.fields?.filter((column) => column.mode === 'REQUIRED').map((column) => column.name),
    ).toEqual(['source']);
  });

  it('writes through a BigQuery subscription the Pub/Sub service agent may write with', () => {
    const subscription = resource(config, 'google_pubsub_subscription', 'audit_bigquery').body;
    expect(subscription.topic).toBe(ref('google_pubsub_topic.audit.id'));
    expect(nested(subscription, 'bigquery_config')).toMatchObject({
      use_table_schema: true,
      write_metadata: true,
    });
    for (const name of metadataColumns)
      expect(columns.map((column) => column.name)).toContain(name);
    const grant = resource(
      config,
      'google_bigquery_table_iam_member',
      'pubsub_agent_writes_audit',
    ).body;
    expect(grant).toMatchObject({
      role: 'roles/bigquery.dataEditor',
      member: ref('local.pubsub_service_agent'),
    });
  });
});

describe('the scheduled sweep', () => {
  it('publishes a contract 3.2 message to the requests topic', () => {
    const job = resource(config, 'google_cloud_scheduler_job', 'sweep').body;
    const target = nested(job, 'pubsub_target');
    expect(target.topic_name).toBe(ref('google_pubsub_topic.requests.id'));
    expect(target.data).toBe(ref('base64encode(jsonencode(local.sweep_message))'));
    const message = String(config.locals.sweep_message);
    for (const key of ['pipelines', 'olderThanSeconds', 'states', 'reason'])
      expect(message).toContain(key);
  });
});

describe('variables and providers', () => {
  it('gives every variable a type and a description, and every validation a message', () => {
    expect(config.variables.length).toBeGreaterThan(0);
    for (const variable of config.variables) {
      expect(typeof variable.body.type, variable.name).toBe('string');
      expect(String(variable.body.description ?? '').length, variable.name).toBeGreaterThan(10);
      for (const validation of nestedAll(variable.body, 'validation')) {
        expect(String(validation.error_message ?? '').length, variable.name).toBeGreaterThan(10);
      }
    }
  });

  it('validates the inputs the contract constrains', () => {
    const validated = config.variables
      .filter((variable) => nestedAll(variable.body, 'validation').length > 0)
      .map((variable) => variable.name);
    for (const name of [
      'project_id',
      'region',
      'managed_projects',
      'allowed_pipelines',
      'sweep_schedule',
      'sweep_pipelines',
      'sweep_states',
      'max_runs_per_event',
      'max_event_age_seconds',
      'failure_outcomes',
    ]) {
      expect(validated, name).toContain(name);
    }
  });

  it('bounds Terraform and provider versions', () => {
    const versions = config.files.find((file) => file.name === 'versions.tf')?.text ?? '';
    expect(versions).toMatch(/required_version\s*=\s*">=\s*[\d.]+,\s*<\s*[\d.]+"/);
    expect(versions).toMatch(
      /source\s*=\s*"hashicorp\/google"\s*\n\s*version\s*=\s*">= 6\.0, < 8\.0"/,
    );
    expect(versions).toMatch(
      /source\s*=\s*"hashicorp\/archive"\s*\n\s*version\s*=\s*">=\s*2\.5, < 3\.0"/,
    );
  });

  it('lists every variable in terraform.tfvars.example or gives it a default', () => {
    const example = readFileSync(join(TERRAFORM_DIRECTORY, 'terraform.tfvars.example'), 'utf8');
    for (const variable of config.variables) {
      if ('default' in variable.body) continue;
      expect(example, variable.name).toMatch(new RegExp(`^${variable.name}\\s*=`, 'm'));
    }
  });
});

function terraformOnPath(): boolean {
  try {
    execFileSync('terraform', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!terraformOnPath())('terraform fmt', () => {
  it('finds nothing to reformat', () => {
    const result = (() => {
      try {
        execFileSync('terraform', ['fmt', '-check', '-recursive', '-diff', TERRAFORM_DIRECTORY], {
          encoding: 'utf8',
          stdio: 'pipe',
        });
        return '';
      } catch (error) {
        return String((error as { stdout?: string }).stdout ?? error);
      }
    })();
    expect(result).toBe('');
  });
});
