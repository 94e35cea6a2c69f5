-- Roles are cluster-global and may serve other databases of this cluster:
-- the rollback leaves them (and their memberships) in place on purpose.
-- Their privileges in this database are revoked by the rollback of 0099.
-- Drop them by hand once no database uses them:
--   DROP ROLE senate_admin, senate_reviewer, senate_writer, senate_reader, senate_owner;
DO $$
BEGIN
    NULL;  -- nothing to undo in this database
END;
$$;
