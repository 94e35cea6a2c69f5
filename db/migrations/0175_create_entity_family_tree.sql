-- Why (issue 19, point 1 "A family tree of entities"): SciDEX's objects are nested (analyses
-- serve hypotheses, hypotheses serve knowledge gaps), and a gap's envelope should bound its
-- whole line of inquiry. This migration stores the tree; the spend gate (can_spend,
-- reserve_spend) and the budget_levels view read it (db/definitions/48_families.sql).
--
--   public.entity_parents          one row per entity that has a parent: any entity kind under
--                                  any other, one parent, no cycles (the functions refuse one,
--                                  S3014), at most 8 levels (S3016). Written only by
--                                  set_entity_parent() / clear_entity_parent() (no role has
--                                  INSERT, UPDATE or DELETE on it but the functions' owner).
--   public.entity_parent_changes   append-only ledger of every change: which entity, parent
--                                  before and after, the login (session_user), when, and why.
--   senate.entity_family           the tree's closure, kept by the functions: a row per member
--                                  of a family and depth (0 = itself, 1 = its parent, ...), so
--                                  that the spend gate reads an entity's levels in one index
--                                  range and a level's subtree in another. An entity in no
--                                  family (no parent, no child) has no row: the gate's one probe
--                                  finds nothing and it checks the envelope as before.
-- New tables only: nothing deployed changes, and a deployment with no tree sees no change.
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S3014', 'entity_parent_cycle',
   'set_entity_parent: the parent is the entity itself or one of its descendants (a family '
   'tree has no cycles).',
   'Choose a parent outside the entity''s subtree: SELECT * FROM entity_parents shows the tree.'),
  ('S3015', 'entity_parent_not_set',
   'clear_entity_parent: the entity has no parent.',
   'Nothing to clear: SELECT * FROM entity_parents WHERE entity_type = ... AND entity_id = ...'),
  ('S3016', 'entity_family_too_deep',
   'set_entity_parent: the link would make a family deeper than 8 levels (an entity and 7 '
   'ancestors).',
   'Attach the subtree higher up, or flatten a level: the spend gate checks every level.'),
  ('S3017', 'family_isolation_unsupported',
   'set_entity_parent / clear_entity_parent in a REPEATABLE READ or SERIALIZABLE transaction: '
   'its snapshot predates the tree lock, so a concurrent change (and a cycle) could be missed.',
   'Change the tree in a READ COMMITTED transaction (the default).')
ON CONFLICT (sqlstate) DO NOTHING;

CREATE TABLE IF NOT EXISTS public.entity_parents (
    entity_type  text NOT NULL REFERENCES public.entity_types (entity_type),
    entity_id    text NOT NULL CONSTRAINT entity_parents_entity_id_check
                     CHECK (length(entity_id) BETWEEN 1 AND 200),
    parent_type  text NOT NULL REFERENCES public.entity_types (entity_type),
    parent_id    text NOT NULL CONSTRAINT entity_parents_parent_id_check
                     CHECK (length(parent_id) BETWEEN 1 AND 200),
    set_by       text NOT NULL DEFAULT session_user,
    set_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason       text NOT NULL CONSTRAINT entity_parents_reason_check
                     CHECK (length(reason) BETWEEN 1 AND 2000),
    CONSTRAINT entity_parents_pkey PRIMARY KEY (entity_type, entity_id),
    CONSTRAINT entity_parents_not_itself CHECK ((parent_type, parent_id) <> (entity_type, entity_id))
);
CREATE INDEX IF NOT EXISTS entity_parents_parent_idx
    ON public.entity_parents (parent_type, parent_id);
COMMENT ON TABLE public.entity_parents IS
  'The family tree of entities (issue 19): an entity''s parent, any kind under any other, one '
  'parent, no cycles, at most 8 levels. A parent''s envelope bounds the spend of its whole '
  'subtree (can_spend, reserve_spend, budget_levels). Written only by set_entity_parent() and '
  'clear_entity_parent(), each change ledgered in entity_parent_changes. An entity without a row '
  'has no parent.';
COMMENT ON COLUMN public.entity_parents.entity_type IS 'Kind of the child entity.';
COMMENT ON COLUMN public.entity_parents.entity_id IS 'Child entity identifier (1-200 characters).';
COMMENT ON COLUMN public.entity_parents.parent_type IS 'Kind of the parent entity (any kind).';
COMMENT ON COLUMN public.entity_parents.parent_id IS 'Parent entity identifier (1-200 characters).';
COMMENT ON COLUMN public.entity_parents.set_by IS 'Login (session_user) that set the link.';
COMMENT ON COLUMN public.entity_parents.set_at IS 'When the link was set (clock time).';
COMMENT ON COLUMN public.entity_parents.reason IS 'Why the entity is under this parent (1-2000 characters), as given to set_entity_parent.';
COMMENT ON CONSTRAINT entity_parents_not_itself ON public.entity_parents IS
  'An entity is not its own parent (set_entity_parent refuses any cycle with S3014 before this).';

CREATE TABLE IF NOT EXISTS public.entity_parent_changes (
    change_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type      text NOT NULL,
    entity_id        text NOT NULL,
    old_parent_type  text,
    old_parent_id    text,
    new_parent_type  text,
    new_parent_id    text,
    changed_by       text NOT NULL DEFAULT session_user,
    changed_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason           text NOT NULL,
    CONSTRAINT entity_parent_changes_old_parent_whole
        CHECK ((old_parent_type IS NULL) = (old_parent_id IS NULL)),
    CONSTRAINT entity_parent_changes_new_parent_whole
        CHECK ((new_parent_type IS NULL) = (new_parent_id IS NULL)),
    CONSTRAINT entity_parent_changes_changes_something
        CHECK ((old_parent_type, old_parent_id) IS DISTINCT FROM (new_parent_type, new_parent_id))
);
CREATE INDEX IF NOT EXISTS entity_parent_changes_entity_idx
    ON public.entity_parent_changes (entity_type, entity_id, change_id);
COMMENT ON TABLE public.entity_parent_changes IS
  'Append-only ledger of the family tree: one row per change of an entity''s parent (set, moved '
  'or cleared), with the parent before and after, the login that made it (session_user), when, '
  'and why. UPDATE, DELETE and TRUNCATE are refused (S4001).';
COMMENT ON COLUMN public.entity_parent_changes.change_id IS 'Order of the changes.';
COMMENT ON COLUMN public.entity_parent_changes.entity_type IS 'Kind of the entity whose parent changed.';
COMMENT ON COLUMN public.entity_parent_changes.entity_id IS 'Identifier of the entity whose parent changed.';
COMMENT ON COLUMN public.entity_parent_changes.old_parent_type IS 'Kind of its parent before; NULL when it had none.';
COMMENT ON COLUMN public.entity_parent_changes.old_parent_id IS 'Its parent before; NULL when it had none.';
COMMENT ON COLUMN public.entity_parent_changes.new_parent_type IS 'Kind of its parent after; NULL when cleared.';
COMMENT ON COLUMN public.entity_parent_changes.new_parent_id IS 'Its parent after; NULL when cleared.';
COMMENT ON COLUMN public.entity_parent_changes.changed_by IS 'Login (session_user) that made the change.';
COMMENT ON COLUMN public.entity_parent_changes.changed_at IS 'When the change was made (clock time).';
COMMENT ON COLUMN public.entity_parent_changes.reason IS 'Why (1-2000 characters), as given to set_entity_parent / clear_entity_parent.';

DROP TRIGGER IF EXISTS t10_refuse_ledger_changes ON public.entity_parent_changes;
CREATE TRIGGER t10_refuse_ledger_changes
    BEFORE UPDATE OR DELETE ON public.entity_parent_changes
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_ledger_changes ON public.entity_parent_changes IS
  'The tree''s ledger is append-only: UPDATE and DELETE are refused (S4001).';
DROP TRIGGER IF EXISTS t10_refuse_ledger_truncate ON public.entity_parent_changes;
CREATE TRIGGER t10_refuse_ledger_truncate
    BEFORE TRUNCATE ON public.entity_parent_changes
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_ledger_truncate ON public.entity_parent_changes IS
  'The tree''s ledger is append-only: TRUNCATE is refused (S4001).';

CREATE TABLE IF NOT EXISTS senate.entity_family (
    entity_type    text NOT NULL,
    entity_id      text NOT NULL,
    depth          smallint NOT NULL CONSTRAINT entity_family_depth_check
                       CHECK (depth BETWEEN 0 AND 7),
    ancestor_type  text NOT NULL,
    ancestor_id    text NOT NULL,
    CONSTRAINT entity_family_pkey PRIMARY KEY (entity_type, entity_id, depth),
    CONSTRAINT entity_family_self_at_depth_0
        CHECK ((depth = 0) = ((ancestor_type, ancestor_id) = (entity_type, entity_id)))
);
CREATE INDEX IF NOT EXISTS entity_family_ancestor_idx
    ON senate.entity_family (ancestor_type, ancestor_id) INCLUDE (entity_type, entity_id, depth);
COMMENT ON TABLE senate.entity_family IS
  'Closure of public.entity_parents, kept by set_entity_parent / clear_entity_parent: for every '
  'entity in a family (with a parent or a child), one row per level: depth 0 is itself, depth d '
  'its ancestor d levels up. An entity''s levels are one primary-key range; a level''s subtree '
  '(itself and its descendants) is one range of entity_family_ancestor_idx. Entities in no family '
  'have no row.';
COMMENT ON COLUMN senate.entity_family.entity_type IS 'Kind of the member entity.';
COMMENT ON COLUMN senate.entity_family.entity_id IS 'Member entity identifier.';
COMMENT ON COLUMN senate.entity_family.depth IS 'Levels up from the member (0 = itself, 1 = parent, ... at most 7).';
COMMENT ON COLUMN senate.entity_family.ancestor_type IS 'Kind of the ancestor at this depth (the member itself at depth 0).';
COMMENT ON COLUMN senate.entity_family.ancestor_id IS 'Identifier of the ancestor at this depth (the member itself at depth 0).';
REVOKE ALL ON senate.entity_family FROM PUBLIC;

INSERT INTO senate.function_access
    (function_name, granted_to, security_definer, revoke_from_public, description) VALUES
  ('public.set_entity_parent', '{senate_admin}', true, true,
   'Changes the family tree (ledgered with session_user and reason); administrators only.'),
  ('public.clear_entity_parent', '{senate_admin}', true, true,
   'Removes an entity''s parent (ledgered with session_user and reason); administrators only.')
ON CONFLICT (function_name) DO NOTHING;

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.entity_parents', 'senate_reader', 'SELECT'),
  ('public.entity_parents', 'senate_writer', 'SELECT'),
  ('public.entity_parents', 'senate_admin', 'SELECT'),
  ('public.entity_parents', 'senate_owner', 'SELECT'),
  ('public.entity_parents', 'senate_owner', 'INSERT'),
  ('public.entity_parents', 'senate_owner', 'UPDATE'),
  ('public.entity_parents', 'senate_owner', 'DELETE'),
  ('public.entity_parent_changes', 'senate_reader', 'SELECT'),
  ('public.entity_parent_changes', 'senate_admin', 'SELECT'),
  ('public.entity_parent_changes', 'senate_owner', 'SELECT'),
  ('public.entity_parent_changes', 'senate_owner', 'INSERT')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
