# Models arrive with the alerting issue.
