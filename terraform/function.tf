locals {
  source_root = abspath("${path.module}/..")

  # The same files as .gcloudignore lets through: package.json, package-lock.json,
  # tsconfig.json, src/ without the local emulator, and the build scripts in scripts/build.
  # test/terraform checks that the two agree.
  source_excludes = [
    ".*",
    ".*/**",
    "*.log",
    "*.md",
    "*.mts",
    "biome.json",
    "tsconfig.*.json",
    "bench",
    "bench/**",
    "coverage",
    "coverage/**",
    "dist",
    "dist/**",
    "docs",
    "docs/**",
    "node_modules",
    "node_modules/**",
    "schema",
    "schema/**",
    "scripts/*.*",
    "scripts/bench",
    "scripts/bench/**",
    "terraform",
    "terraform/**",
    "test",
    "test/**",
    "src/emulator",
    "src/emulator/**",
  ]

  allowed_pipeline_projects = distinct([for pattern in var.allowed_pipelines : split("/", pattern)[1]])
}

data "archive_file" "source" {
  type        = "zip"
  source_dir  = local.source_root
  excludes    = local.source_excludes
  output_path = "${path.module}/function-source.zip"
  # Fixed file modes keep the hash, and so the object name, the same on every machine.
  output_file_mode = "0644"
}

resource "google_storage_bucket" "source" {
  name     = coalesce(var.source_bucket_name, "${var.project_id}-${var.name}-source")
  project  = var.project_id
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_object" "source" {
  # The name carries the zip's hash: a code change is a new object, so the function rebuilds.
  name   = "${var.name}-${data.archive_file.source.output_sha256}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

resource "google_cloudfunctions2_function" "function" {
  name        = var.name
  project     = var.project_id
  location    = var.region
  description = "Cancels Cloud Deploy automation runs on request, alert and schedule; audits every decision."

  build_config {
    # Cloud Run functions decommissioned nodejs20 on 2026-10-30; the code runs on 20 and up.
    runtime         = "nodejs22"
    entry_point     = "cancelAutomationRuns"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # No event_trigger: the subscription Eventarc would create cannot carry a dead-letter
  # policy, so google_pubsub_subscription.requests_push delivers instead (see pubsub.tf).
  service_config {
    available_memory                 = var.function_memory
    available_cpu                    = var.max_instance_request_concurrency > 1 ? "1" : null
    timeout_seconds                  = var.function_timeout_seconds
    min_instance_count               = 0
    max_instance_count               = var.max_instance_count
    max_instance_request_concurrency = var.max_instance_request_concurrency
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.runtime.email

    # The deployed variables of CONFIG_VARIABLES in src/config.ts (contract section 2), and
    # NODE_OPTIONS: the Node.js flags of DEPLOYED_NODE_OPTIONS in src/bundle-loader.ts, under
    # which the build makes the code cache.
    environment_variables = {
      NODE_OPTIONS          = "--max-semi-space-size=4"
      AUDIT_TOPIC           = google_pubsub_topic.audit.id
      ALLOWED_PIPELINES     = join(",", var.allowed_pipelines)
      DRY_RUN               = tostring(var.dry_run)
      MAX_RUNS_PER_EVENT    = tostring(var.max_runs_per_event)
      MAX_EVENT_AGE_SECONDS = tostring(var.max_event_age_seconds)
      DEFAULT_LOCATION      = var.default_location
      GOOGLE_CLOUD_PROJECT  = var.project_id
      RUN_CONCURRENCY       = tostring(var.run_concurrency)
      # One message's work is bounded to end inside this timeout.
      FUNCTION_TIMEOUT_SECONDS = tostring(var.function_timeout_seconds)
    }
  }

  lifecycle {
    precondition {
      condition = alltrue([
        for project in local.allowed_pipeline_projects : project == "*" || contains(var.managed_projects, project)
      ])
      error_message = "Every project named in allowed_pipelines must be in managed_projects, or the function could never act on it."
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_pubsub_topic_iam_member.runtime_publishes_audit,
  ]
}
