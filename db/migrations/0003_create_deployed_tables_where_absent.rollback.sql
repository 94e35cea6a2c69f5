-- Removes only what 0003 created (senate.schema_registry). A deployed resource_usage or
-- allocation_proposals is adopted, never dropped: its rows, columns, indexes and comments stay,
-- and only the columns 0003 added to it (the optional ones it lacked) and their comments go.
-- On a fresh install 0003 created both tables, so its rollback drops them.
CALL senate.release('0003');
