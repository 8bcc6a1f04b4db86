/**
 * The values the OpenAPI document's examples use. Every operation's example request names
 * resources by these ids; the document's test sends each example with them replaced by
 * resources it made, so an example that no longer works fails there.
 */
export const exampleIds = {
  key: 'a5f34dc3-6191-4f0c-8145-6b73e78ad6b0',
  baseCheckpoint: '0c067629-2270-4e0e-ba3e-f82af604a404',
  checkpoint: '6c895756-2803-47b9-960c-3024a3b9c0dd',
  voice: 'f285c494-df88-4abc-be24-15b86385a5b3',
  clip: '5e5d7557-08a4-4ca6-8252-bbaea5fd0ea1',
  dataset: '8519b61e-827f-4795-9b63-29801e25b1d5',
  datasetClip: '2e9c45a9-dd64-4ae2-b99f-da09b5f708f4',
  recording: 'fb012493-5ba1-4a0e-8527-855c80422e32',
  run: '0f7aa898-a462-45fc-9e98-c81d38d39966',
  test: '93277061-d023-46d2-b42f-566ea45bb56c',
  condition: 'bfb448fd-8822-4aed-8992-9f9b013a898c',
  trial: 'c49225ad-7111-4dc1-89e3-72d7e428df0b',
  promotion: '6e875f84-813f-4c0e-8de0-3439be9163c7',
  rater: '36822358-5a05-420e-ad31-9d9ca3982c5b',
  vote: '4d3b9f0e-7a21-4c5e-8f6d-2b1a0c9e8d7f',
} as const;

/** Secrets and codes in examples: an invitation, a rater's session token, a completion code. */
export const exampleTokens = {
  invite: 'Yk3pQ9vT2mWcLr8aXe4NbQ',
  rater: 'lrt_8hJq2LmVx0aBcD4eFgH6iJk9LmN1oPqRsT3uVw5xY',
  completion: '7F3A91B2K4M8QX2D6ZR0',
  apiKey: 'xvs_3Jq9VtYp2mWcXk7LrA0bNd5HfG8s',
  adminKey: 'xvs_Ad9mN2bV7cX4zL1kJ8hG5fD3sQ6wE0rT',
  signIn: 'Si9nInT0kenFr0mTheF0rmsC00kie-0123456789a',
} as const;

export const exampleTime = '2026-11-30T09:00:00.000Z';
export const exampleLaterTime = '2026-11-30T09:05:00.000Z';
