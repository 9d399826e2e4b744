import { describe, expect, it } from 'vitest';
import { haversineMeters, isValidLatLng, isWithinPlace } from './geo.ts';

const seoulCityHall = { latitude: 37.5663, longitude: 126.9779 };
const busanCityHall = { latitude: 35.1798, longitude: 129.075 };

describe('haversineMeters', () => {
  it('is zero for the same point', () => {
    expect(haversineMeters(seoulCityHall, seoulCityHall)).toBe(0);
  });

  it('gives about 111.2 km for one degree of latitude', () => {
    expect(haversineMeters({ latitude: 0, longitude: 0 }, { latitude: 1, longitude: 0 })).toBeCloseTo(111_195, -1);
  });

  it('gives Seoul to Busan City Hall as about 325 km, both ways', () => {
    const d = haversineMeters(seoulCityHall, busanCityHall);
    expect(d / 1000).toBeCloseTo(325, -1);
    expect(haversineMeters(busanCityHall, seoulCityHall)).toBeCloseTo(d, 6);
  });

  it('stays finite for antipodal points', () => {
    expect(haversineMeters({ latitude: 0, longitude: 0 }, { latitude: 0, longitude: 180 })).toBeCloseTo(Math.PI * 6_371_008.8, 0);
  });
});

describe('isWithinPlace', () => {
  const place = { ...seoulCityHall, radiusMeters: 200 };

  it('counts points inside the radius and not outside', () => {
    expect(isWithinPlace(place, { latitude: 37.5672, longitude: 126.9779 })).toBe(true); // ~100 m north
    expect(isWithinPlace(place, { latitude: 37.5690, longitude: 126.9779 })).toBe(false); // ~300 m north
  });
});

describe('isValidLatLng', () => {
  it('refuses out-of-range and non-finite coordinates', () => {
    expect(isValidLatLng(seoulCityHall)).toBe(true);
    expect(isValidLatLng({ latitude: 90.1, longitude: 0 })).toBe(false);
    expect(isValidLatLng({ latitude: 0, longitude: -180.1 })).toBe(false);
    expect(isValidLatLng({ latitude: Number.NaN, longitude: 0 })).toBe(false);
  });
});
