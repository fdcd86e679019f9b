import t from 'tap';
import { isRequestMti, responseMti, unionPayPosRequests } from '../../protocol/index.js';

// The profile's transaction set, request -> answer, as the profile states it (not derived from the rule).
const profileAnswers: Record<string, string> = {
  '0800': '0810', '0820': '0830', '0200': '0210', '0220': '0230', '0400': '0410', '0500': '0510', '0320': '0330', '0920': '0930',
};

t.test('every request MTI of the profile is answered by the MTI the profile names', async (t) => {
  t.same(Object.keys(unionPayPosRequests).sort(), Object.keys(profileAnswers).sort(), 'the spec lists the profile\'s requests');
  for (const [request, answer] of Object.entries(profileAnswers)) {
    t.ok(isRequestMti(request), request);
    t.equal(responseMti(request), answer, request);
  }
});

t.test('an MTI that is not a request has no answer MTI: responseMti throws, naming it', async (t) => {
  for (const mti of ['0210', '0810', '0330', '0931', '020', '02000', 'abcd', '02a0', '']) {
    t.notOk(isRequestMti(mti), mti);
    const named = new RegExp(`^"${mti}" is not a request MTI`); // digits and letters only: nothing to escape
    t.throws(() => responseMti(mti), { name: 'RangeError', message: named }, mti);
  }
});

t.test('outside the profile the ISO rule still holds: function +1, version, class and origin kept', async (t) => {
  t.equal(responseMti('0100'), '0110');
  t.equal(responseMti('0201'), '0211');
  t.equal(responseMti('1804'), '1814');
});
