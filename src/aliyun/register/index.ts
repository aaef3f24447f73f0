/** Dynamic registration (one secret per product) over HTTPS and over MQTT. Pure formats. */
export {
  REGISTER_PATH,
  registerHost,
  buildRegisterForm,
  parseRegisterAnswer,
  type DeviceCredentials,
  type RegisterFormInput,
  type RegisterForm,
  type RegisterAnswer,
} from './https.js';
export {
  registrationConnectCredentials,
  parseRegisterAnswerMessage,
  parseRegnwlAnswerMessage,
  tokenConnectCredentials,
  type RegisterAuthType,
  type RegisterSecureMode,
  type RegistrationConnectInput,
  type RegistrationClientId,
  type DeviceToken,
} from './mqtt.js';
