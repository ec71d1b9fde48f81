locals {
  # A sweep request (contract section 3.2); empty filters are left out, so `states`
  # defaults to both cancellable states and any age qualifies.
  sweep_message = merge(
    {
      pipelines = var.sweep_pipelines
      reason    = var.sweep_reason
    },
    var.sweep_older_than_seconds == null ? {} : { olderThanSeconds = var.sweep_older_than_seconds },
    length(var.sweep_states) == 0 ? {} : { states = var.sweep_states },
  )
}

resource "google_cloud_scheduler_job" "sweep" {
  count = var.sweep_enabled ? 1 : 0

  name        = "${var.name}-sweep"
  project     = var.project_id
  region      = var.region
  description = "Publishes a sweep request that cancels stale automation runs."
  schedule    = var.sweep_schedule
  time_zone   = var.sweep_time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.requests.id
    data       = base64encode(jsonencode(local.sweep_message))
  }

  lifecycle {
    precondition {
      condition     = length(var.sweep_pipelines) > 0
      error_message = "sweep_pipelines must list at least one pipeline when sweep_enabled is true."
    }
  }

  depends_on = [google_project_service.enabled]
}

# A sweep of a pipeline outside ALLOWED_PIPELINES would only ever be audited DENIED.
check "sweep_pipelines_are_allowed" {
  assert {
    condition = alltrue([
      for pipeline in var.sweep_pipelines : anytrue([
        for pattern in var.allowed_pipelines :
        can(regex("^${replace(replace(pattern, ".", "\\."), "*", "[^/]+")}$", pipeline))
      ])
    ])
    error_message = "Some sweep_pipelines match no allowed_pipelines pattern; the function would deny them."
  }
}
