-- Right to be forgotten: the global account of an erased person goes when no workspace holds them any more.
-- Callable by the runtime role inside a tenant transaction; it deletes nothing while any membership remains.
CREATE OR REPLACE FUNCTION auth_erase_user_if_orphaned(p_user_id text)
  RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
BEGIN
  IF app_current_tenant() IS NULL THEN
    RAISE EXCEPTION 'erasure runs inside a tenant transaction' USING ERRCODE = '42501';
  END IF;
  IF EXISTS (SELECT 1 FROM memberships WHERE user_id = p_user_id) THEN
    RETURN false;
  END IF;
  DELETE FROM users WHERE id = p_user_id;
  RETURN FOUND;
END $$;
REVOKE ALL ON FUNCTION auth_erase_user_if_orphaned(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_erase_user_if_orphaned(text) TO causeloop_app;
