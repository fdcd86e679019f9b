// The tests' key-encryption key: a switch on a database other than the embedded default refuses the
// development key, so every test that seeds terminals and starts a switch uses this one for both.
export const testKekHex = '7A1C55E09B3D42F68C0E1D2B3A4F5061';
