// /v1/access-reviews: an owner starts a review (a snapshot of every grant), reviewers with members:write mark
// each line keep or revoke, the owner completes it (revocations applied, result signed), anyone reviewing
// reads and exports the signed result.
import { Elysia, t } from "elysia";
import { PageQuery, responses } from "../http/contract.ts";
import type { Signer } from "../audit/signing.ts";
import type { authPlugin, Caller } from "./auth.ts";
import { completeReview, decide, exportReview, getReview, listReviews, startReview } from "./access-reviews.ts";
import { AccessReview, AccessReviewPage, SignedAccessReview } from "./schemas.ts";

const reviewId = t.Object({ id: t.String({ pattern: "^arv_[0-9a-z]{26}$" }) });
const withRole = (c: Caller) => ({ ...c.actor, role: c.principal.role });

export function accessReviewRoutes(auth: ReturnType<typeof authPlugin>, signer: Signer) {
  return new Elysia({ name: "access-reviews" })
    .use(auth)
    .post(
      "/v1/access-reviews",
      ({ caller, set }) => {
        set.status = 201;
        return caller.tenant((tx) => startReview(tx, withRole(caller)));
      },
      {
        scope: "members:write",
        detail: {
          summary:
            "Start an access review (owner): members with role, last sign-in and MFA; tokens and service accounts with scopes, age and last use; SSO connections; SCIM tokens",
          tags: ["access-reviews"],
          responses: responses({ 201: AccessReview }),
        },
      },
    )
    .get(
      "/v1/access-reviews",
      ({ caller, query }) => caller.tenant((tx) => listReviews(tx, caller.principal.workspaceId, query)),
      {
        scope: "members:write",
        query: t.Object(PageQuery),
        detail: {
          summary: "List access reviews",
          tags: ["access-reviews"],
          responses: responses({ 200: AccessReviewPage }),
        },
      },
    )
    .get(
      "/v1/access-reviews/:id",
      ({ caller, params }) => caller.tenant((tx) => getReview(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "members:write",
        params: reviewId,
        detail: {
          summary: "An access review with its lines",
          tags: ["access-reviews"],
          responses: responses({ 200: AccessReview }),
        },
      },
    )
    .post(
      "/v1/access-reviews/:id/decisions",
      ({ caller, params, body }) => caller.tenant((tx) => decide(tx, caller.actor, params.id, body.decisions)),
      {
        scope: "members:write",
        params: reviewId,
        body: t.Object(
          {
            decisions: t.Array(
              t.Object(
                {
                  item_id: t.String({ pattern: "^ari_[0-9a-z]{26}$" }),
                  decision: t.Union([t.Literal("keep"), t.Literal("revoke")]),
                },
                { additionalProperties: false },
              ),
              { minItems: 1, maxItems: 5000 },
            ),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Mark lines of an open review keep or revoke",
          tags: ["access-reviews"],
          responses: responses({ 200: AccessReview }, [409]),
        },
      },
    )
    .post(
      "/v1/access-reviews/:id/complete",
      ({ caller, params }) => caller.tenant((tx) => completeReview(tx, signer, withRole(caller), params.id)),
      {
        scope: "members:write",
        params: reviewId,
        detail: {
          summary:
            "Complete a review (owner; every line decided): revocations applied at once, the result signed with the audit key and recorded in the audit trail",
          tags: ["access-reviews"],
          responses: responses({ 200: AccessReview }, [409]),
        },
      },
    )
    .get(
      "/v1/access-reviews/:id/export",
      ({ caller, params }) => caller.tenant((tx) => exportReview(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "members:write",
        params: reviewId,
        detail: {
          summary: "The signed result of a completed review (verify it with /.well-known/jwks.json)",
          tags: ["access-reviews"],
          responses: responses({ 200: SignedAccessReview }, [409]),
        },
      },
    );
}
