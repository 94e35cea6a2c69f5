-- Undoing a migration that created views means dropping them.
-- Removes only what 0061 added.
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_roi_priority;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_last_rebalance_summary;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_reserve_history;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_budget_by_period;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_spend_mix;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_last_rebalance;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_reserve;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_pending_proposals;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_roi_laggards;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_throttled;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_roi_leaders;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_over_budget;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_top_allocations;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_overview;
