# Identity the function runs as: it reads and cancels automation runs in the managed
# projects and publishes audit events, nothing else.
resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = var.name
  display_name = "Cancel Cloud Deploy automation runs (runtime)"
  description  = "Runs the ${var.name} function: gets, lists and cancels automation runs; publishes audit events."

  depends_on = [google_project_service.enabled]
}

# Identity Pub/Sub presents, with an OIDC token, when it pushes requests to the function.
resource "google_service_account" "invoker" {
  project      = var.project_id
  account_id   = "${var.name}-invoker"
  display_name = "Cancel Cloud Deploy automation runs (push invoker)"
  description  = "Identity of the requests push subscription; may only invoke the ${var.name} service."

  depends_on = [google_project_service.enabled]
}

# One custom role per managed project holding exactly the three permissions the function uses.
# Project roles keep each grant inside its project and need no organization-level rights.
resource "google_project_iam_custom_role" "automation_run_canceller" {
  for_each = toset(var.managed_projects)

  project     = each.value
  role_id     = var.custom_role_id
  title       = "Cloud Deploy automation run canceller"
  description = "Get, list and cancel Cloud Deploy automation runs; used by ${var.name} in ${var.project_id}."
  permissions = [
    "clouddeploy.automationRuns.cancel",
    "clouddeploy.automationRuns.get",
    "clouddeploy.automationRuns.list",
  ]
}

resource "google_project_iam_member" "runtime_cancels_automation_runs" {
  for_each = toset(var.managed_projects)

  project = each.value
  role    = google_project_iam_custom_role.automation_run_canceller[each.value].id
  member  = local.runtime_member
}

# Publisher on the audit topic only: never a project-wide Pub/Sub role.
resource "google_pubsub_topic_iam_member" "runtime_publishes_audit" {
  project = var.project_id
  topic   = google_pubsub_topic.audit.name
  role    = "roles/pubsub.publisher"
  member  = local.runtime_member
}

# The invoker may call this one Cloud Run service (the function's), nothing else.
resource "google_cloud_run_v2_service_iam_member" "invoker_runs_function" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function.name
  role     = "roles/run.invoker"
  member   = local.invoker_member
}

# Older projects' Pub/Sub service agent needs this to sign push tokens for the invoker.
resource "google_service_account_iam_member" "pubsub_agent_signs_invoker_tokens" {
  count = var.pubsub_agent_token_creator ? 1 : 0

  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# Dead-lettering: the Pub/Sub service agent publishes what it forwards to the dead-letter
# topic and acknowledges it on the source subscription.
resource "google_pubsub_topic_iam_member" "pubsub_agent_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_forwards_requests" {
  project      = var.project_id
  subscription = google_pubsub_subscription.requests_push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
