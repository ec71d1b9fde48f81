# Cloud Monitoring publishes incidents of any policy using this channel to the requests
# topic; the policy's clouddeploy_* user labels name the pipeline (contract section 3.3).
resource "google_monitoring_notification_channel" "requests" {
  project      = var.project_id
  display_name = "${var.name}: cancel Cloud Deploy automation runs"
  description  = "An open incident on a policy with clouddeploy_* labels cancels that pipeline's in-flight automation runs."
  type         = "pubsub"

  labels = {
    topic = google_pubsub_topic.requests.id
  }

  depends_on = [google_project_service.enabled]
}

# Cloud Monitoring creates its notification service agent with the first Pub/Sub channel,
# so this grant waits for the channel.
resource "google_pubsub_topic_iam_member" "monitoring_agent_publishes_requests" {
  project = var.project_id
  topic   = google_pubsub_topic.requests.name
  role    = "roles/pubsub.publisher"
  member  = local.monitoring_service_agent

  depends_on = [google_monitoring_notification_channel.requests]
}

resource "google_monitoring_alert_policy" "cancel_on_incident" {
  for_each = var.alert_policies

  project      = var.project_id
  display_name = each.value.display_name
  combiner     = "OR"

  conditions {
    display_name = each.value.display_name

    condition_threshold {
      filter          = each.value.filter
      comparison      = each.value.comparison
      threshold_value = each.value.threshold_value
      duration        = "${each.value.duration_seconds}s"

      aggregations {
        alignment_period   = "${each.value.alignment_seconds}s"
        per_series_aligner = each.value.aligner
      }
    }
  }

  # Read by the function: which pipeline (and optionally which runs) an incident stops.
  user_labels = {
    for key, value in {
      clouddeploy_pipeline   = each.value.pipeline
      clouddeploy_location   = each.value.location
      clouddeploy_project    = each.value.project
      clouddeploy_target     = each.value.target
      clouddeploy_automation = each.value.automation
      clouddeploy_rule       = each.value.rule
    } : key => value if value != null
  }

  notification_channels = [google_monitoring_notification_channel.requests.id]

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "While this incident is open, ${var.name} cancels the in-flight automation runs of delivery pipeline `${each.value.pipeline}`. Closing it cancels nothing."
  }

  depends_on = [google_pubsub_topic_iam_member.monitoring_agent_publishes_requests]
}

# One log line per decision (contract section 6) becomes a counter by outcome and source.
resource "google_logging_metric" "decisions" {
  project     = var.project_id
  name        = "${var.name}/decisions"
  description = "Decisions of ${var.name}, by outcome and request source."
  filter      = <<-EOT
    resource.type="cloud_run_revision"
    resource.labels.service_name="${var.name}"
    jsonPayload.outcome:*
  EOT

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "${var.name} decisions"

    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "Decision outcome, e.g. CANCELLED or DENIED."
    }

    labels {
      key         = "source"
      value_type  = "STRING"
      description = "Request source: REQUEST, SWEEP or ALERT."
    }
  }

  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
    source  = "EXTRACT(jsonPayload.source)"
  }

  depends_on = [google_project_service.enabled]
}

# Decisions an operator should look at (var.failure_outcomes), for dashboards and alerts.
resource "google_logging_metric" "failures" {
  project     = var.project_id
  name        = "${var.name}/failures"
  description = "Decisions of ${var.name} with an outcome in ${join(", ", var.failure_outcomes)}."
  filter      = <<-EOT
    resource.type="cloud_run_revision"
    resource.labels.service_name="${var.name}"
    (${join(" OR ", [for outcome in var.failure_outcomes : "jsonPayload.outcome=\"${outcome}\""])})
  EOT

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "${var.name} failures"

    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "Decision outcome."
    }

    labels {
      key         = "source"
      value_type  = "STRING"
      description = "Request source: REQUEST, SWEEP or ALERT."
    }
  }

  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
    source  = "EXTRACT(jsonPayload.source)"
  }

  depends_on = [google_project_service.enabled]
}

# A message in the dead-letter subscription was not handled after every retry.
resource "google_monitoring_alert_policy" "dead_letters" {
  count = length(var.dead_letter_alert_notification_channels) > 0 ? 1 : 0

  project      = var.project_id
  display_name = "${var.name}: dead-lettered requests"
  combiner     = "OR"

  conditions {
    display_name = "Undelivered messages in ${google_pubsub_subscription.dead_letter.name}"

    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.dead_letter.name}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  notification_channels = var.dead_letter_alert_notification_channels

  documentation {
    mime_type = "text/markdown"
    content   = "Requests to ${var.name} failed every delivery attempt. Inspect and replay them as docs/deploy.md describes."
  }
}
