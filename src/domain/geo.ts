import type { OnSitePlace } from './pollDefinition.ts';

export interface LatLng {
  latitude: number;
  longitude: number;
}

/** Mean Earth radius (IUGG), metres. The spherical model errs by under 0.5%, far below GPS noise indoors. */
const EARTH_RADIUS_METERS = 6_371_008.8;

const toRadians = (degrees: number): number => (degrees * Math.PI) / 180;

/** Great-circle distance in metres between two WGS-84 points, by the haversine formula. */
export function haversineMeters(a: LatLng, b: LatLng): number {
  const dLat = toRadians(b.latitude - a.latitude);
  const dLon = toRadians(b.longitude - a.longitude);
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(toRadians(a.latitude)) * Math.cos(toRadians(b.latitude)) * Math.sin(dLon / 2) ** 2;
  // min() guards asin against rounding just above 1 for antipodal points.
  return 2 * EARTH_RADIUS_METERS * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Whether a reported position lies within an on-site place's radius (the boundary counts as inside).
 *
 * The position comes from the browser's Geolocation API, which the voter controls: it can be spoofed
 * with developer tools or a mock-location app. On-site voting is a convenience check that keeps honest
 * remote voters out, not a security boundary; polls that need proof of presence need a code handed out
 * at the place, or a roll.
 */
export function isWithinPlace(place: OnSitePlace, position: LatLng): boolean {
  return haversineMeters(place, position) <= place.radiusMeters;
}

/** Whether a pair of numbers is a valid latitude/longitude. */
export function isValidLatLng(position: LatLng): boolean {
  return (
    Number.isFinite(position.latitude) &&
    Number.isFinite(position.longitude) &&
    Math.abs(position.latitude) <= 90 &&
    Math.abs(position.longitude) <= 180
  );
}
