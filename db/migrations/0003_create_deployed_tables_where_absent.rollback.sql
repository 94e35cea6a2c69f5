-- Never drops a deployed table: resource_usage and allocation_proposals may
-- predate this project and hold its consumers' data. Dropping them after a
-- fresh install is an operator's explicit decision, not a rollback.
SELECT 1;
