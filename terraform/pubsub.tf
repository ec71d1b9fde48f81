# Requests: cancel requests (3.1), sweeps (3.2) and Cloud Monitoring incidents (3.3).
resource "google_pubsub_topic" "requests" {
  name    = "${var.name}-requests"
  project = var.project_id

  depends_on = [google_project_service.enabled]
}

# Audit events (contract section 5). Kept a week so a new consumer can seek back.
resource "google_pubsub_topic" "audit" {
  name    = "${var.name}-audit"
  project = var.project_id

  message_retention_duration = "604800s"

  depends_on = [google_project_service.enabled]
}

# Messages that exhausted their deliveries. The topic keeps them 31 days, the Pub/Sub maximum.
resource "google_pubsub_topic" "dead_letter" {
  name    = "${var.name}-dead-letter"
  project = var.project_id

  message_retention_duration = "2678400s"

  depends_on = [google_project_service.enabled]
}

# Without a subscription a dead letter would be dropped; this one keeps them, acknowledged
# ones included, so an operator can inspect and replay them (docs/deploy.md).
resource "google_pubsub_subscription" "dead_letter" {
  name    = "${var.name}-dead-letter"
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.id

  ack_deadline_seconds       = 60
  message_retention_duration = "${var.dead_letter_retention_days * 86400}s"
  retain_acked_messages      = true

  expiration_policy {
    ttl = ""
  }
}

# Delivery to the function. A subscription of our own rather than the function's
# event_trigger, because the subscription Eventarc creates cannot be given a dead-letter
# policy through Terraform (hashicorp/terraform-provider-google#25069, #9748).
resource "google_pubsub_subscription" "requests_push" {
  name    = "${var.name}-requests-push"
  project = var.project_id
  topic   = google_pubsub_topic.requests.id

  ack_deadline_seconds       = local.ack_deadline_seconds
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = google_cloudfunctions2_function.function.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.function.service_config[0].uri
    }
  }

  # A thrown error (transient failure, contract section 4) is retried with exponential backoff.
  retry_policy {
    minimum_backoff = "${var.retry_minimum_backoff_seconds}s"
    maximum_backoff = "${var.retry_maximum_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  lifecycle {
    precondition {
      condition     = var.retry_minimum_backoff_seconds <= var.retry_maximum_backoff_seconds
      error_message = "retry_minimum_backoff_seconds must not exceed retry_maximum_backoff_seconds."
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.invoker_runs_function,
    google_service_account_iam_member.pubsub_agent_signs_invoker_tokens,
    google_pubsub_topic_iam_member.pubsub_agent_publishes_dead_letters,
  ]
}
