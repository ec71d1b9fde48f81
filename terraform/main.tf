data "google_project" "this" {
  project_id = var.project_id
}

locals {
  project_number = data.google_project.this.number

  # Google-managed service agents of this project. Pub/Sub's acts for push delivery,
  # dead-lettering and BigQuery writes; Monitoring's publishes to Pub/Sub channels.
  pubsub_service_agent     = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  monitoring_service_agent = "serviceAccount:service-${local.project_number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"

  runtime_member = "serviceAccount:${google_service_account.runtime.email}"
  invoker_member = "serviceAccount:${google_service_account.invoker.email}"

  # Pub/Sub push allows at most 600 s to acknowledge; the deadline outlives the function
  # so that a slow run is never delivered twice while the first attempt still works.
  ack_deadline_seconds = min(600, var.function_timeout_seconds + 60)

  services = concat(
    [
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "clouddeploy.googleapis.com",
      "cloudfunctions.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "iam.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "pubsub.googleapis.com",
      "run.googleapis.com",
      "storage.googleapis.com",
    ],
    var.sweep_enabled ? ["cloudscheduler.googleapis.com"] : [],
    var.audit_bigquery_enabled ? ["bigquery.googleapis.com"] : [],
  )
}

resource "google_project_service" "enabled" {
  for_each = var.enable_apis ? toset(local.services) : toset([])

  project = var.project_id
  service = each.value

  # Other workloads in the project may rely on these APIs; never turn them off on destroy.
  disable_on_destroy         = false
  disable_dependent_services = false
}
