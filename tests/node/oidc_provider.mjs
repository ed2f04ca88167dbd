// A real OpenID provider (the certified `oidc-provider` package) on a free loopback port, for the SSO tests.
//
// Usage: node oidc_provider.mjs CONFIG.json
// CONFIG: {"client": {"client_id", "client_secret", "redirect_uris": [...], "post_logout_redirect_uris": [...]},
//          "accounts": {"<login name>": {"email", "name", "email_verified"?}}}
// The login page is the package's development interaction: any password is accepted for a login name in
// `accounts`; a login name not in `accounts` is refused. The first line on stdout is "ISSUER <url>" once it listens.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const server = createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...config.client,
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Every authorization request must carry a PKCE S256 challenge (the default asks it only of public clients).
  pkce: { required: () => true },
  // A first-party app: the grant is given without a consent screen.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  async findAccount(ctx, sub) {
    const claims = config.accounts[sub];
    if (!claims) return undefined;
    return { accountId: sub, async claims() { return { sub, ...claims }; } };
  },
  cookies: { keys: ['oidc-test-cookie-key'] },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
});
server.on('request', provider.callback());
process.stdout.write(`ISSUER ${issuer}\n`);
process.on('SIGTERM', () => { server.close(); process.exit(0); });
