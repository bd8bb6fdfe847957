import { createRemoteJWKSet, customFetch, errors as joseErrors, type FetchImplementation, type JWTVerifyGetKey } from "jose";
import { HubError } from "../errors.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";

/**
 * Token keys from a JWK Set URL (tokenJwksUrl), on jose's remote set: the set is cached for
 * `cacheSeconds`; a token whose `kid` is not in it fetches it again, at most once per
 * `cooldownSeconds` (a stream of tokens with made-up `kid`s costs one fetch, not one each).
 *
 * jose counts its cooldown from the last fetch that worked; the fetch below counts it from
 * the last try as well, so a URL that is down or answers garbage is not asked again on every
 * connect either. Requests are made one at a time (jose shares a fetch in flight).
 */
export function createJwksKeys(
  url: URL,
  opts: { cacheSeconds: number; cooldownSeconds: number; onFetchError?: ((err: unknown) => void) | undefined },
): JWTVerifyGetKey {
  const cooldownMs = opts.cooldownSeconds * 1000;
  let lastTry = -Infinity;
  const boundedFetch: FetchImplementation = async (href, init) => {
    const now = Date.now();
    if (now - lastTry < cooldownMs)
      throw new Error(`the last fetch was less than ${opts.cooldownSeconds}s ago and failed (tokenJwksCooldownSeconds)`);
    lastTry = now;
    return fetch(href, init);
  };
  const remote = createRemoteJWKSet(url, {
    cacheMaxAge: opts.cacheSeconds * 1000,
    cooldownDuration: cooldownMs,
    [customFetch]: boundedFetch,
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      const e = jwksError(err);
      if (e !== err) opts.onFetchError?.(err);
      throw e;
    }
  };
}

/**
 * A token that names no key of the set is the token's fault (unauthorized, left to the
 * caller's mapping); a set that cannot be had is the hub's, and passes: a temporary error, so
 * the client retries instead of taking its token for bad.
 */
function jwksError(err: unknown): unknown {
  if (
    err instanceof joseErrors.JWKSNoMatchingKey ||
    err instanceof joseErrors.JWKSMultipleMatchingKeys ||
    err instanceof joseErrors.JOSENotSupported
  )
    return err;
  // The message goes to the client: it names no URL or address (the log has them).
  return new HubError(ErrorCode.ERROR_CODE_NOT_AVAILABLE, "token keys unavailable: the JWK Set could not be fetched; try again", true, { cause: err });
}
