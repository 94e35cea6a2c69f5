-- 0023 only validated constraints that 0021 added; validation cannot be undone
-- and needs no undoing (rolling back 0021 drops the constraints).
DO $$ BEGIN END $$;
