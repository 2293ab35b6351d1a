import { z } from 'zod';
import { parseInput } from '../../src/http/validation';
import { checkoutRequestSchema } from '../../src/payments/schemas';
import { ApiError } from '../../src/shared/errors';

const validCheckout = {
  sku: 'gems_600',
  provider: 'sandbox',
  device: { id: 'dev_4f1c2a', model: 'iPhone15,2', os: 'iOS', os_version: '17.4' },
};

const orderSchema = z.object({ items: z.array(z.object({ note: z.string() }).strict()) }).strict();

function refusal(schema: z.ZodType, input: unknown, where: 'body' | 'query' = 'body'): ApiError {
  try {
    parseInput(schema, input, where);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected the input to be refused');
}

describe('parseInput', () => {
  test('returns the parsed input with defaults applied', () => {
    const parsed = parseInput(checkoutRequestSchema, validCheckout, 'body');

    expect(parsed).toMatchObject({ sku: 'gems_600', quantity: 1, device: { emulator: false, rooted: false } });
  });

  test('a missing field is parameter_missing naming its dotted path', () => {
    const { model: _omitted, ...device } = validCheckout.device;

    expect(refusal(checkoutRequestSchema, { ...validCheckout, device })).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      code: 'parameter_missing',
      param: 'device.model',
      message: 'Missing required parameter: device.model.',
    });
  });

  test('a missing field inside an array is parameter_missing naming its index', () => {
    expect(refusal(orderSchema, { items: [{ note: 'a' }, {}] })).toMatchObject({ code: 'parameter_missing', param: 'items[1].note' });
  });

  test('an unknown key is parameter_unknown naming it, at any depth', () => {
    expect(refusal(checkoutRequestSchema, { ...validCheckout, price: 1 })).toMatchObject({
      status: 400,
      code: 'parameter_unknown',
      param: 'price',
      message: 'Received unknown parameter: price.',
    });
    expect(refusal(checkoutRequestSchema, { ...validCheckout, device: { ...validCheckout.device, imei: 'x' } })).toMatchObject({
      code: 'parameter_unknown',
      param: 'device.imei',
    });
    expect(refusal(orderSchema, { items: [{ note: 'a', color: 'red' }] })).toMatchObject({ code: 'parameter_unknown', param: 'items[0].color' });
  });

  test('a value of the wrong type is parameter_invalid naming the field', () => {
    expect(refusal(checkoutRequestSchema, { ...validCheckout, quantity: 'two' })).toMatchObject({
      status: 400,
      code: 'parameter_invalid',
      param: 'quantity',
    });
    expect(refusal(checkoutRequestSchema, { ...validCheckout, device: { ...validCheckout.device, rooted: 'no' } })).toMatchObject({
      code: 'parameter_invalid',
      param: 'device.rooted',
    });
  });

  test('null is an invalid value, not a missing one', () => {
    expect(refusal(checkoutRequestSchema, { ...validCheckout, sku: null })).toMatchObject({ code: 'parameter_invalid', param: 'sku' });
  });

  test('a value out of range or not in the enum is parameter_invalid', () => {
    expect(refusal(checkoutRequestSchema, { ...validCheckout, quantity: 100 })).toMatchObject({ code: 'parameter_invalid', param: 'quantity' });
    expect(refusal(checkoutRequestSchema, { ...validCheckout, provider: 'paypal' })).toMatchObject({ code: 'parameter_invalid', param: 'provider' });
  });

  test('an absent body or query is reported as missing under its location', () => {
    expect(refusal(checkoutRequestSchema, undefined)).toMatchObject({ code: 'parameter_missing', param: 'body' });
    expect(refusal(z.object({ limit: z.number() }), undefined, 'query')).toMatchObject({ code: 'parameter_missing', param: 'query' });
  });
});
