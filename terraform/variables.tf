variable "project_id" {
  type        = string
  description = "Project that hosts the function, its topics and its service accounts."

  validation {
    condition     = can(regex("^(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id: 6 to 30 lower-case letters, digits or hyphens, starting with a letter (optionally domain-scoped, example.com:my-project)."
  }
}

variable "region" {
  type        = string
  description = "Region of the function, its source bucket and the scheduler job, e.g. us-central1."

  validation {
    condition     = can(regex("^[a-z]+(?:-[a-z]+)*[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west4."
  }
}

variable "name" {
  type        = string
  description = "Base name of the function and of the resources made for it. Also the prefix of the service account ids, so at most 22 characters."
  default     = "cancel-automation-runs"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{3,20}[a-z0-9]$", var.name))
    error_message = "name must be 5 to 22 lower-case letters, digits or hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels put on every resource that takes labels."
  default     = {}

  validation {
    condition = alltrue([
      for key, value in var.labels :
      can(regex("^[a-z][a-z0-9_-]{0,62}$", key)) && can(regex("^[a-z0-9_-]{0,63}$", value))
    ])
    error_message = "labels keys must be 1 to 63 lower-case letters, digits, _ or -, starting with a letter; values at most 63 of the same characters."
  }
}

variable "enable_apis" {
  type        = bool
  description = "Enable the Google Cloud APIs this configuration needs. Turn off where another configuration owns project services."
  default     = true
}

# --- What the function may touch ---------------------------------------------------------

variable "managed_projects" {
  type        = list(string)
  description = "Projects whose Cloud Deploy automation runs the function may get, list and cancel. Each gets a custom role holding exactly those three permissions, granted to the runtime service account."

  validation {
    condition     = length(var.managed_projects) > 0
    error_message = "managed_projects must list at least one project."
  }

  validation {
    condition = alltrue([
      for project in var.managed_projects :
      can(regex("^(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$", project))
    ])
    error_message = "managed_projects entries must be project ids (6 to 30 lower-case letters, digits or hyphens, starting with a letter)."
  }
}

variable "custom_role_id" {
  type        = string
  description = "Id of the custom role created in each managed project. A deleted custom role keeps its id for 7 days, so pick another id when recreating within that time."
  default     = "cloudDeployAutomationRunCanceller"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.]{3,64}$", var.custom_role_id))
    error_message = "custom_role_id must be 3 to 64 letters, digits, underscores or periods."
  }
}

variable "allowed_pipelines" {
  type        = list(string)
  description = "ALLOWED_PIPELINES: delivery pipeline patterns projects/P/locations/L/deliveryPipelines/D where each of P, L and D is an id or * (one whole segment). A run outside every pattern is DENIED without an API call."

  validation {
    condition     = length(var.allowed_pipelines) > 0
    error_message = "allowed_pipelines must list at least one pattern."
  }

  validation {
    condition = alltrue([
      for pattern in var.allowed_pipelines :
      can(regex("^projects/(?:\\*|(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})/locations/(?:\\*|[a-z][a-z0-9-]{0,61}[a-z0-9])/deliveryPipelines/(?:\\*|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$", pattern))
    ])
    error_message = "allowed_pipelines entries must look like projects/my-project/locations/*/deliveryPipelines/*: each of project, location and pipeline an id or a lone *."
  }
}

# --- Function settings (contract section 2) ----------------------------------------------

variable "dry_run" {
  type        = bool
  description = "DRY_RUN: decide and audit everything, cancel nothing (outcome DRY_RUN)."
  default     = false
}

variable "max_runs_per_event" {
  type        = number
  description = "MAX_RUNS_PER_EVENT: the most runs one message may cancel; the rest are audited LIMIT_EXCEEDED."
  default     = 50

  validation {
    condition     = var.max_runs_per_event >= 1 && var.max_runs_per_event <= 1000 && floor(var.max_runs_per_event) == var.max_runs_per_event
    error_message = "max_runs_per_event must be a whole number from 1 to 1000."
  }
}

variable "max_event_age_seconds" {
  type        = number
  description = "MAX_EVENT_AGE_SECONDS: an older message is acknowledged and audited EXPIRED, so a retry loop always ends."
  default     = 3600

  validation {
    condition     = var.max_event_age_seconds >= 1 && var.max_event_age_seconds <= 604800 && floor(var.max_event_age_seconds) == var.max_event_age_seconds
    error_message = "max_event_age_seconds must be a whole number from 1 to 604800 (7 days)."
  }
}

variable "default_location" {
  type        = string
  description = "DEFAULT_LOCATION: location used for an alert whose policy has no clouddeploy_location label. Empty for none."
  default     = ""

  validation {
    condition     = var.default_location == "" || can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.default_location))
    error_message = "default_location must be empty or a location such as us-central1."
  }
}

variable "run_concurrency" {
  type        = number
  description = "RUN_CONCURRENCY: how many runs of one message are decided at once (Cloud Deploy calls in flight)."
  default     = 10

  validation {
    condition     = var.run_concurrency >= 1 && var.run_concurrency <= 100 && floor(var.run_concurrency) == var.run_concurrency
    error_message = "run_concurrency must be a whole number from 1 to 100."
  }
}

variable "function_timeout_seconds" {
  type        = number
  description = "Function timeout. The push subscription's acknowledgement deadline is this plus 60 s, and Pub/Sub allows at most 600 s, so at most 540."
  default     = 120

  validation {
    condition     = var.function_timeout_seconds >= 10 && var.function_timeout_seconds <= 540 && floor(var.function_timeout_seconds) == var.function_timeout_seconds
    error_message = "function_timeout_seconds must be a whole number from 10 to 540."
  }
}

variable "function_memory" {
  type        = string
  description = "Memory of each function instance."
  default     = "256M"

  validation {
    condition     = contains(["256M", "512M", "1G", "2G", "4G"], var.function_memory)
    error_message = "function_memory must be one of 256M, 512M, 1G, 2G, 4G."
  }
}

variable "max_instance_count" {
  type        = number
  description = "Most function instances at once; bounds the load on the Cloud Deploy API."
  default     = 5

  validation {
    condition     = var.max_instance_count >= 1 && var.max_instance_count <= 100 && floor(var.max_instance_count) == var.max_instance_count
    error_message = "max_instance_count must be a whole number from 1 to 100."
  }
}

variable "max_instance_request_concurrency" {
  type        = number
  description = "Messages one instance handles at once. Above 1 the instance gets a whole vCPU, which Cloud Run functions require for concurrency."
  default     = 1

  validation {
    condition     = var.max_instance_request_concurrency >= 1 && var.max_instance_request_concurrency <= 80 && floor(var.max_instance_request_concurrency) == var.max_instance_request_concurrency
    error_message = "max_instance_request_concurrency must be a whole number from 1 to 80."
  }
}

variable "build_service_account" {
  type        = string
  description = "Service account that builds the function, as projects/PROJECT/serviceAccounts/EMAIL. Null keeps the project's default build account."
  default     = null

  validation {
    condition     = var.build_service_account == null || can(regex("^projects/[^/]+/serviceAccounts/[^/@]+@[^/]+$", var.build_service_account))
    error_message = "build_service_account must be null or projects/PROJECT/serviceAccounts/EMAIL."
  }
}

variable "source_bucket_name" {
  type        = string
  description = "Bucket for the zipped source. Null makes PROJECT-NAME-source."
  default     = null

  validation {
    condition     = var.source_bucket_name == null || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.source_bucket_name))
    error_message = "source_bucket_name must be null or a bucket name of 3 to 63 lower-case letters, digits, dots, underscores or hyphens."
  }
}

# --- Delivery ----------------------------------------------------------------------------

variable "max_delivery_attempts" {
  type        = number
  description = "Deliveries of one message before Pub/Sub moves it to the dead-letter topic."
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100 && floor(var.max_delivery_attempts) == var.max_delivery_attempts
    error_message = "max_delivery_attempts must be a whole number from 5 to 100 (the Pub/Sub limits)."
  }
}

variable "retry_minimum_backoff_seconds" {
  type        = number
  description = "Shortest wait before Pub/Sub redelivers a failed message; the wait grows exponentially from here."
  default     = 10

  validation {
    condition     = var.retry_minimum_backoff_seconds >= 0 && var.retry_minimum_backoff_seconds <= 600 && floor(var.retry_minimum_backoff_seconds) == var.retry_minimum_backoff_seconds
    error_message = "retry_minimum_backoff_seconds must be a whole number from 0 to 600."
  }
}

variable "retry_maximum_backoff_seconds" {
  type        = number
  description = "Longest wait between redeliveries of a failed message."
  default     = 600

  validation {
    condition     = var.retry_maximum_backoff_seconds >= 1 && var.retry_maximum_backoff_seconds <= 600 && floor(var.retry_maximum_backoff_seconds) == var.retry_maximum_backoff_seconds
    error_message = "retry_maximum_backoff_seconds must be a whole number from 1 to 600."
  }
}

variable "dead_letter_retention_days" {
  type        = number
  description = "How long the dead-letter subscription keeps messages, acknowledged ones included, so they can be replayed. The topic itself keeps them 31 days."
  default     = 7

  validation {
    condition     = var.dead_letter_retention_days >= 1 && var.dead_letter_retention_days <= 7 && floor(var.dead_letter_retention_days) == var.dead_letter_retention_days
    error_message = "dead_letter_retention_days must be a whole number from 1 to 7 (the Pub/Sub subscription limit)."
  }
}

variable "pubsub_agent_token_creator" {
  type        = bool
  description = "Grant the Pub/Sub service agent Service Account Token Creator on the invoker service account only. Projects created before 8 April 2021 need it to sign push tokens; later ones have it built in."
  default     = true
}

# --- Cloud Monitoring ---------------------------------------------------------------------

variable "alert_policies" {
  type = map(object({
    display_name      = string
    filter            = string
    threshold_value   = number
    comparison        = optional(string, "COMPARISON_GT")
    duration_seconds  = optional(number, 60)
    alignment_seconds = optional(number, 60)
    aligner           = optional(string, "ALIGN_RATE")
    pipeline          = string
    location          = optional(string)
    project           = optional(string)
    target            = optional(string)
    automation        = optional(string)
    rule              = optional(string)
  }))
  description = "Example alert policies that cancel runs when they open an incident. Each carries the clouddeploy_* user labels (pipeline required; location, project, target, automation, rule optional) and notifies the requests channel. Keys are only Terraform names."
  default     = {}

  validation {
    condition = alltrue([
      for policy in values(var.alert_policies) : alltrue([
        for value in compact([policy.pipeline, policy.target, policy.automation, policy.rule]) :
        can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", value))
      ])
    ])
    error_message = "alert_policies pipeline, target, automation and rule must be Cloud Deploy ids: lower-case letters, digits and hyphens, at most 63."
  }

  validation {
    condition = alltrue([
      for policy in values(var.alert_policies) :
      (policy.location == null || can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", policy.location))) &&
      (policy.project == null || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", policy.project)))
    ])
    error_message = "alert_policies location must be a location such as us-central1 and project a project id (label values cannot hold a domain-scoped id)."
  }

  validation {
    condition = alltrue([
      for policy in values(var.alert_policies) :
      contains(["COMPARISON_GT", "COMPARISON_GE", "COMPARISON_LT", "COMPARISON_LE", "COMPARISON_EQ", "COMPARISON_NE"], policy.comparison) &&
      policy.duration_seconds >= 0 && policy.alignment_seconds >= 60
    ])
    error_message = "alert_policies comparison must be one of COMPARISON_GT, GE, LT, LE, EQ, NE; duration_seconds at least 0; alignment_seconds at least 60."
  }
}

variable "dead_letter_alert_notification_channels" {
  type        = list(string)
  description = "Notification channels (projects/P/notificationChannels/ID) told when messages reach the dead-letter subscription. Empty creates no such alert. Never the requests channel."
  default     = []

  validation {
    condition     = alltrue([for channel in var.dead_letter_alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", channel))])
    error_message = "dead_letter_alert_notification_channels entries must be projects/PROJECT/notificationChannels/ID."
  }
}

# --- Scheduled sweep (contract section 3.2) ------------------------------------------------

variable "sweep_enabled" {
  type        = bool
  description = "Create a Cloud Scheduler job that publishes a sweep message to the requests topic."
  default     = false
}

variable "sweep_schedule" {
  type        = string
  description = "Cron schedule of the sweep (five fields: minute hour day-of-month month day-of-week)."
  default     = "0 3 * * *"

  validation {
    condition     = can(regex("^\\s*(?:[0-9*,/A-Za-z?-]+\\s+){4}[0-9*,/A-Za-z?-]+\\s*$", var.sweep_schedule))
    error_message = "sweep_schedule must be a five-field cron expression such as \"0 3 * * *\"."
  }
}

variable "sweep_time_zone" {
  type        = string
  description = "Time zone of the sweep schedule, from the tz database (e.g. Etc/UTC, Europe/Berlin)."
  default     = "Etc/UTC"

  validation {
    condition     = can(regex("^(?:UTC|[A-Z][A-Za-z_]+(?:/[A-Za-z0-9_+-]+){1,2})$", var.sweep_time_zone))
    error_message = "sweep_time_zone must be a tz database name such as Etc/UTC or America/New_York."
  }
}

variable "sweep_pipelines" {
  type        = list(string)
  description = "Full delivery pipeline names the sweep lists runs in (no wildcards): projects/P/locations/L/deliveryPipelines/D."
  default     = []

  validation {
    condition = alltrue([
      for pipeline in var.sweep_pipelines :
      can(regex("^projects/(?:(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})/locations/[a-z][a-z0-9-]{0,61}[a-z0-9]/deliveryPipelines/[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", pipeline))
    ])
    error_message = "sweep_pipelines entries must be full pipeline names projects/P/locations/L/deliveryPipelines/D, without wildcards."
  }
}

variable "sweep_older_than_seconds" {
  type        = number
  description = "olderThanSeconds of the sweep: only runs created longer ago than this are cancelled. Null for any age."
  default     = 7200

  validation {
    condition     = var.sweep_older_than_seconds == null || (try(var.sweep_older_than_seconds >= 1, false) && try(floor(var.sweep_older_than_seconds) == var.sweep_older_than_seconds, false))
    error_message = "sweep_older_than_seconds must be null or a positive whole number."
  }
}

variable "sweep_states" {
  type        = list(string)
  description = "states of the sweep: which cancellable states to select. Empty selects both PENDING and IN_PROGRESS."
  default     = ["PENDING"]

  validation {
    condition     = alltrue([for state in var.sweep_states : contains(["PENDING", "IN_PROGRESS"], state)]) && length(distinct(var.sweep_states)) == length(var.sweep_states)
    error_message = "sweep_states may hold PENDING and IN_PROGRESS, each at most once."
  }
}

variable "sweep_reason" {
  type        = string
  description = "reason put on the sweep message and echoed in every audit event it causes."
  default     = "scheduled cleanup"

  validation {
    condition     = length(var.sweep_reason) <= 1024
    error_message = "sweep_reason must be at most 1024 characters."
  }
}

# --- Audit history ------------------------------------------------------------------------

variable "audit_bigquery_enabled" {
  type        = bool
  description = "Keep every audit event in a BigQuery table through a BigQuery subscription on the audit topic."
  default     = false
}

variable "audit_dataset_id" {
  type        = string
  description = "BigQuery dataset for the audit history."
  default     = "cancel_automation_runs"

  validation {
    condition     = can(regex("^[A-Za-z0-9_]+$", var.audit_dataset_id)) && length(var.audit_dataset_id) <= 1024
    error_message = "audit_dataset_id must be 1 to 1024 letters, digits and underscores."
  }
}

variable "audit_table_id" {
  type        = string
  description = "BigQuery table for the audit history, one row per audit event."
  default     = "audit_events"

  validation {
    condition     = can(regex("^[A-Za-z0-9_]+$", var.audit_table_id)) && length(var.audit_table_id) <= 1024
    error_message = "audit_table_id must be 1 to 1024 letters, digits and underscores."
  }
}

variable "bigquery_location" {
  type        = string
  description = "Location of the audit dataset: a multi-region (US, EU) or a region. Null uses var.region."
  default     = null

  validation {
    condition     = var.bigquery_location == null || can(regex("^(?:US|EU|[a-z]+(?:-[a-z]+)*[0-9]+)$", var.bigquery_location))
    error_message = "bigquery_location must be null, US, EU or a region such as europe-west4."
  }
}

variable "audit_table_deletion_protection" {
  type        = bool
  description = "Refuse to destroy the audit table while true."
  default     = true
}

variable "failure_outcomes" {
  type        = list(string)
  description = "Outcomes counted by the failures log-based metric: the decisions an operator should look at."
  default     = ["FAILED", "PERMISSION_DENIED"]

  validation {
    condition = length(var.failure_outcomes) > 0 && alltrue([
      for outcome in var.failure_outcomes : contains([
        "CANCELLED", "DRY_RUN", "NOT_CANCELLABLE", "NOT_FOUND", "DENIED", "PERMISSION_DENIED",
        "REJECTED", "IGNORED", "EXPIRED", "LIMIT_EXCEEDED", "FAILED",
      ], outcome)
    ])
    error_message = "failure_outcomes must list at least one of CANCELLED, DRY_RUN, NOT_CANCELLABLE, NOT_FOUND, DENIED, PERMISSION_DENIED, REJECTED, IGNORED, EXPIRED, LIMIT_EXCEEDED, FAILED."
  }
}
