// The OpenID Provider of tests/e2e/test_oidc.py: panva's certified oidc-provider with one confidential client
// (Charter) and a few people whose claims carry groups. Its development sign-in page takes any password.
//
//   node provider.mjs PORT ISSUER REDIRECT_URI CLIENT_SECRET
//
// Test hooks (not part of OpenID): POST /test/tamper makes the next token response carry an ID token whose
// payload was altered after signing (the signature no longer matches); POST /test/groups/ACCOUNT with a JSON list
// replaces that person's groups.
import Provider from 'oidc-provider';

const [port, issuer, redirectUri, clientSecret] = process.argv.slice(2);

const people = {
  alice: { email: 'alice@example.com', name: 'Alice Platform', groups: ['ml-platform', 'staff'] },
  bob: { email: 'bob@example.com', name: 'Bob Nobody', groups: ['staff'] },
};

const configuration = {
  clients: [{
    client_id: 'charter',
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  async findAccount(ctx, id) {
    const person = people[id];
    if (!person) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: person.email,
          email_verified: true,
          name: person.name,
          preferred_username: id,
          groups: person.groups,
        };
      },
    };
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['charter-test-provider-cookie-key'] },
  ttl: { IdToken: 300, AccessToken: 300, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
};

const provider = new Provider(issuer, configuration);
let tamper = false;

provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/test/tamper') {
    tamper = true;
    ctx.status = 204;
    return;
  }
  const groups = ctx.path.match(/^\/test\/groups\/([a-z]+)$/);
  if (ctx.method === 'POST' && groups && people[groups[1]]) {
    let body = '';
    for await (const chunk of ctx.req) body += chunk;
    people[groups[1]].groups = JSON.parse(body);
    ctx.status = 204;
    return;
  }
  await next();
  if (tamper && ctx.path === '/token' && ctx.body && typeof ctx.body.id_token === 'string') {
    tamper = false;
    const [header, payload, signature] = ctx.body.id_token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.groups = ['ml-platform', 'charter-admins'];
    const forged = Buffer.from(JSON.stringify(claims)).toString('base64url');
    ctx.body = { ...ctx.body, id_token: `${header}.${forged}.${signature}` };
  }
});

provider.listen(Number(port), () => {
  console.log(`listening ${issuer}`);
});
