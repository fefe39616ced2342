// The portal.
