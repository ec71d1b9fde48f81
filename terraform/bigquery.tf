locals {
  audit_table_reference = "${var.project_id}.${var.audit_dataset_id}.${var.audit_table_id}"
}

resource "google_bigquery_dataset" "audit" {
  count = var.audit_bigquery_enabled ? 1 : 0

  project     = var.project_id
  dataset_id  = var.audit_dataset_id
  location    = coalesce(var.bigquery_location, var.region)
  description = "Audit history of ${var.name}: one row per decision."

  depends_on = [google_project_service.enabled]
}

# Columns are the audit event's fields (src/audit-event.ts, contract section 5) plus the
# four metadata columns write_metadata fills. test/terraform checks the two stay in step.
resource "google_bigquery_table" "audit" {
  count = var.audit_bigquery_enabled ? 1 : 0

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.audit[0].dataset_id
  table_id            = var.audit_table_id
  description         = "Audit events of ${var.name}, written by a BigQuery subscription on ${google_pubsub_topic.audit.name}."
  schema              = file("${path.module}/audit-event.bigquery.json")
  deletion_protection = var.audit_table_deletion_protection

  time_partitioning {
    type  = "DAY"
    field = "time"
  }

  clustering = ["outcome", "pipeline"]
}

# The Pub/Sub service agent writes the rows: data access on this table only.
resource "google_bigquery_table_iam_member" "pubsub_agent_writes_audit" {
  count = var.audit_bigquery_enabled ? 1 : 0

  project    = var.project_id
  dataset_id = google_bigquery_dataset.audit[0].dataset_id
  table_id   = google_bigquery_table.audit[0].table_id
  role       = "roles/bigquery.dataEditor"
  member     = local.pubsub_service_agent
}

# use_table_schema: the audit data is JSON, and each top-level field lands in the column of
# the same name (request and error as RECORDs). write_metadata adds message_id,
# publish_time and the attributes. drop_unknown_fields keeps a field added to the contract
# later from stalling the subscription before the table gains its column.
resource "google_pubsub_subscription" "audit_bigquery" {
  count = var.audit_bigquery_enabled ? 1 : 0

  name    = "${var.name}-audit-bigquery"
  project = var.project_id
  topic   = google_pubsub_topic.audit.id

  bigquery_config {
    table               = local.audit_table_reference
    use_table_schema    = true
    write_metadata      = true
    drop_unknown_fields = true
  }

  # A row BigQuery refuses goes to the dead-letter topic instead of blocking the backlog.
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_bigquery_table_iam_member.pubsub_agent_writes_audit,
    google_pubsub_topic_iam_member.pubsub_agent_publishes_dead_letters,
  ]
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_forwards_audit" {
  count = var.audit_bigquery_enabled ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.audit_bigquery[0].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
