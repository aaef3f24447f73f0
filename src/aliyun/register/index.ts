/** Dynamic registration (one secret per product) over HTTPS and over MQTT. Pure formats. */
export {
  REGISTER_PATH,
  registerHost,
  buildRegisterForm,
  parseRegisterForm,
  parseRegisterAnswer,
  buildRegisterAnswer,
  type DeviceCredentials,
  type RegisterFormInput,
  type RegisterForm,
  type RegisterAnswer,
} from './https.js';
export {
  registrationConnectCredentials,
  parseRegistrationClientId,
  isTokenClientId,
  parseRegisterAnswerMessage,
  buildRegisterAnswerMessage,
  parseRegnwlAnswerMessage,
  buildRegnwlAnswerMessage,
  tokenConnectCredentials,
  type RegisterAuthType,
  type RegisterSecureMode,
  type RegistrationConnectInput,
  type RegistrationClientId,
  type DeviceToken,
} from './mqtt.js';
