// A real OAuth 2.0 authorization server (oidc-provider, certified by the OpenID Foundation) on
// loopback, for tests/e2e/test_oauth_server.py: the tests play Twilio against it.
//
// Configured as a user's server would be for a Twilio AuthProfile:
// - "twilio-webhooks": Twilio's client, client credentials with client_secret_post;
// - "other-client": another client of the same server (its tokens must be refused);
// - "resource-server": the app's own client, for RFC 7662 introspection;
// - resource indicators: JWT access tokens for our resource (the AuthProfile's audience), and
//   for another one. Twilio sends `audience` in its token request (as Auth0 names it); this
//   server reads it as the RFC 8707 resource indicator when `resource` is absent.
//
// Environment: PORTS (comma-separated: one issuer per port, http://127.0.0.1:PORT, same keys),
// JWKS (the private signing keys, a JSON JWK set: the tests rotate keys by restarting with
// another), AUDIENCE, OTHER_AUDIENCE, SECRET (every client's secret).
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const ports = process.env.PORTS.split(',').map(Number);
const jwks = JSON.parse(process.env.JWKS);
const audience = process.env.AUDIENCE;
const otherAudience = process.env.OTHER_AUDIENCE;
const secret = process.env.SECRET;

const client = (clientId, extra = {}) => ({
  client_id: clientId,
  client_secret: secret,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_post',
  ...extra,
});

function configuration() {
  return {
    clients: [
      client('twilio-webhooks'),
      client('other-client'),
      client('resource-server', { grant_types: [], token_endpoint_auth_method: 'client_secret_basic' }),
    ],
    jwks,
    scopes: ['webhooks', 'short', 'opaque'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Twilio's `audience` parameter, when no `resource` is given.
        defaultResource: async (ctx) => ctx.oidc.body?.audience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, indicator) => {
          if (indicator !== audience && indicator !== otherAudience) {
            throw new errors.InvalidTarget();
          }
          // The scope "short" asks for a token that lives 2 seconds (the tests see one expire);
          // "opaque" for an opaque token, which only introspection can verify.
          const asked = String(ctx.oidc.body?.scope || '').split(' ');
          return {
            scope: 'webhooks short opaque',
            audience: indicator,
            accessTokenTTL: asked.includes('short') ? 2 : 300,
            accessTokenFormat: asked.includes('opaque') ? 'opaque' : 'jwt',
            jwt: { sign: { alg: jwks.keys[0].alg || 'RS256' } },
          };
        },
      },
    },
  };
}

for (const port of ports) {
  const provider = new Provider(`http://127.0.0.1:${port}`, configuration());
  createServer(provider.callback()).listen(port, '127.0.0.1');
}
