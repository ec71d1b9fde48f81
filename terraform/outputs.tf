output "requests_topic" {
  description = "Topic to publish cancel and sweep requests to (projects/P/topics/T)."
  value       = google_pubsub_topic.requests.id
}

output "audit_topic" {
  description = "Topic the function publishes one audit event per decision to (AUDIT_TOPIC)."
  value       = google_pubsub_topic.audit.id
}

output "dead_letter_topic" {
  description = "Topic that receives messages after every delivery attempt failed."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription" {
  description = "Subscription that keeps dead letters for inspection and replay."
  value       = google_pubsub_subscription.dead_letter.id
}

output "requests_push_subscription" {
  description = "Push subscription that delivers requests to the function, with retries and dead-lettering."
  value       = google_pubsub_subscription.requests_push.id
}

output "notification_channel_id" {
  description = "Cloud Monitoring notification channel (projects/P/notificationChannels/ID) to add to alert policies that carry clouddeploy_* user labels."
  value       = google_monitoring_notification_channel.requests.id
}

output "function_name" {
  description = "Name of the Cloud Run function."
  value       = google_cloudfunctions2_function.function.name
}

output "function_uri" {
  description = "URI of the function's Cloud Run service (internal ingress: reachable from this project's Pub/Sub and VPC only)."
  value       = google_cloudfunctions2_function.function.service_config[0].uri
}

output "runtime_service_account_email" {
  description = "Service account the function runs as."
  value       = google_service_account.runtime.email
}

output "invoker_service_account_email" {
  description = "Service account Pub/Sub presents when it pushes to the function."
  value       = google_service_account.invoker.email
}

output "custom_roles" {
  description = "Custom role granted to the runtime service account, by managed project."
  value       = { for project, role in google_project_iam_custom_role.automation_run_canceller : project => role.id }
}

output "decisions_metric_type" {
  description = "Metric type of the decisions log-based metric, for dashboards and alert policies."
  value       = "logging.googleapis.com/user/${google_logging_metric.decisions.name}"
}

output "failures_metric_type" {
  description = "Metric type of the failures log-based metric."
  value       = "logging.googleapis.com/user/${google_logging_metric.failures.name}"
}

output "sweep_job" {
  description = "Cloud Scheduler job that publishes the sweep, or null."
  value       = try(google_cloud_scheduler_job.sweep[0].id, null)
}

output "audit_table" {
  description = "BigQuery table holding the audit history (PROJECT.DATASET.TABLE), or null."
  value       = var.audit_bigquery_enabled ? local.audit_table_reference : null
}
