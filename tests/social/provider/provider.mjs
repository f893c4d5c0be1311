// A real OpenID provider for the social-login tests and for trying sign-in locally: panva's OpenID
// Certified oidc-provider, with its development login form (any login name, any password).
//
//   PORT=9150 node provider.mjs                      issuer http://127.0.0.1:9150
//
// Settings, from the environment:
//   PORT          where it listens on 127.0.0.1 (default 9150)
//   ISSUER        default http://127.0.0.1:$PORT
//   KEYS          a file holding its private JWKS ({"keys": [...]}); default: keys made at start
//   CLIENTS       a JSON list of {"client_id", "redirect_uris": [...]}: public clients (no secret) that
//                 may use the implicit id_token flow and the code flow with PKCE
//                 (default: one client "storefront" redirecting to the emulator's console at 127.0.0.1:9080)
//   ACCOUNTS      a JSON object of login name -> claims (email, email_verified, given_name, family_name);
//                 any other login name gets <name>@example.com, verified, and a name made from it
//   PACKAGES      the folder holding the node_modules/ that scripts/lib/npm.sh installed this folder's
//                 package-lock.json into (default: this folder)
import { readFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packages = process.env.PACKAGES || fileURLToPath(new URL('.', import.meta.url));
const { default: Provider } = await import(
  pathToFileURL(createRequire(join(packages, 'package.json')).resolve('oidc-provider')).href);

const port = Number(process.env.PORT || 9150);
const issuer = process.env.ISSUER || `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.CLIENTS || '[{"client_id":"storefront","redirect_uris":["http://127.0.0.1:9080/"]}]');
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');

function keys() {
  if (process.env.KEYS) return JSON.parse(readFileSync(process.env.KEYS, 'utf8'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: `key-${Date.now()}`, use: 'sig' }] };
}

function claimsOf(login) {
  const known = accounts[login];
  if (known) return known;
  const name = login.split('@')[0];
  return {
    email: login.includes('@') ? login : `${login}@example.com`,
    email_verified: true,
    given_name: name.charAt(0).toUpperCase() + name.slice(1),
    family_name: 'Example',
  };
}

const provider = new Provider(issuer, {
  clients: clients.map((client) => ({
    application_type: 'native', // loopback http redirects (RFC 8252), as a console on this machine has
    token_endpoint_auth_method: 'none',
    grant_types: ['implicit', 'authorization_code'],
    response_types: ['id_token', 'code'],
    ...client,
  })),
  jwks: keys(),
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: { email: ['email', 'email_verified'], profile: ['family_name', 'given_name', 'name'] },
  conformIdTokenClaims: false, // the code flow's ID token carries the email and names too, as Google's does
  scopes: ['openid', 'email', 'profile'],
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub, ...claimsOf(sub) }; } };
  },
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} listening on 127.0.0.1:${port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
